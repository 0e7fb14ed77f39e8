/* The page's own script: job cards, My videos, and the small things a visitor expects
 * (a prompt counter, the tab title, notifications, a language switch).
 *
 * Put at the top of the page's <head> (suxi/web/head.py), so it runs before Gradio starts. Everything the server sends is set as
 * text (never as HTML). See docs/architecture.md, "The page". */
(() => {
  "use strict";
  const VISITOR = "suxi-visitor";
  const LANG = "suxi-lang";
  const TAB_JOBS = "suxi-tab-jobs";
  const PROMPT = "suxi-prompt";
  const NOTIFY = "suxi-notify";
  const SOUND = "suxi-sound";
  const title = () => (w("ui_title") === "ui_title" ? "Sentence → video" : w("ui_title"));

  // — language: the visitor's choice wins over the browser's (Gradio reads navigator.language) —
  const chosen = localStorage.getItem(LANG);
  if (chosen === "zh" || chosen === "en") {
    const tag = chosen === "zh" ? "zh-CN" : "en";
    try {
      Object.defineProperty(Navigator.prototype, "language", { get: () => tag, configurable: true });
      Object.defineProperty(Navigator.prototype, "languages", { get: () => [tag], configurable: true });
    } catch (e) { /* an older browser: the browser's language stays */ }
  }
  const lang = () => ((localStorage.getItem(LANG) || navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en");

  // — who this browser is: a random token in local storage (a recovery link can carry it) —
  const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;
  // A recovery link (#recover=<token>, My videos) carries a visitor token to another browser:
  // taken on load and when the link is opened in a tab that is already open, and never in
  // place of this browser's own token without asking.
  function recover() {
    const found = /(?:^|[#&])recover=([A-Za-z0-9_-]{16,128})/.exec(location.hash);
    if (!found) return;
    history.replaceState(null, "", location.pathname + location.search);
    const mine = localStorage.getItem(VISITOR);
    if (mine === found[1]) return;
    const ask = mine && (document.documentElement.lang || navigator.language || "").startsWith("zh")
      ? "用这个恢复链接里的视频库替换本浏览器当前的视频库吗？"
      : "Use the library of this recovery link instead of this browser's own?";
    if (mine && !window.confirm(ask)) return;
    localStorage.setItem(VISITOR, found[1]);
    if (document.readyState !== "loading") location.reload();
  }
  recover();
  window.addEventListener("hashchange", recover);
  function visitor() {
    let v = localStorage.getItem(VISITOR);
    if (!v || !TOKEN.test(v)) {
      const bytes = crypto.getRandomValues(new Uint8Array(24));
      v = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem(VISITOR, v);
    }
    return v;
  }
  visitor();

  const words = {};
  const learn = (value) => {
    try { Object.assign(words, typeof value === "string" ? JSON.parse(value) : value || {}); } catch (e) { /* keep what we have */ }
  };
  const w = (key, values) => {
    let text = (words[lang()] || words.en || {})[key] || key;
    for (const [k, v] of Object.entries(values || {})) text = text.split(`{${k}}`).join(String(v));
    return text;
  };
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };
  const clock = (s) => {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(sec).padStart(2, "0")}`;
  };
  const apiKey = () => {
    const box = document.querySelector("#api-key input, #api-key textarea");
    return box ? box.value.trim() : "";
  };

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ visitor: visitor(), lang: lang(), api_key: apiKey(), ...body }),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  // — the tab's own jobs (sessionStorage: a reload of this tab keeps them, a new tab starts empty) —
  const tabJobs = () => {
    try { return JSON.parse(sessionStorage.getItem(TAB_JOBS) || "[]").filter((i) => typeof i === "string"); }
    catch (e) { return []; }
  };
  const saveTabJobs = (ids) => sessionStorage.setItem(TAB_JOBS, JSON.stringify(ids.slice(-48)));

  // ───────────────────────────── cards ─────────────────────────────
  const cards = {
    root: null,
    byId: new Map(),
    stream: null,
    retry: 0,

    mount(element, props, watch) {
      learn(props.words);
      this.root = element.querySelector(".suxi-cards") || element;
      this.root.before(switches());
      const ids = tabJobs();
      for (const id of ids) this.placeholder(id);
      if (ids.length) this.follow();
      watch("value", () => this.receive(props.value));
      setInterval(() => this.tick(), 1000);
      document.addEventListener("visibilitychange", () => this.title());
    },

    receive(value) {
      let message;
      try { message = JSON.parse(value || "{}"); } catch (e) { return; }
      for (const old of this.root.querySelectorAll(".suxi-notice")) old.remove();
      if (message.notice) this.notice(message.notice, message.started && message.started.length ? "warn" : "error");
      if (message.started && message.started.length) this.adopt(message.started);
    },

    adopt(list) {
      const ids = tabJobs();
      for (const data of list) {
        if (!ids.includes(data.id)) ids.push(data.id);
        this.update(data);
      }
      saveTabJobs(ids);
      this.follow();
      const first = this.byId.get(list[0].id);
      if (first) first.node.scrollIntoView({ block: "nearest", behavior: "smooth" });
    },

    notice(text, tone) {
      const box = el("div", `suxi-notice ${tone || "error"}`, text);
      box.setAttribute("role", "alert");
      const close = el("button", "suxi-link", "×");
      close.setAttribute("aria-label", w("card_close"));
      close.onclick = () => box.remove();
      box.appendChild(close);
      this.root.prepend(box);
      box.scrollIntoView({ block: "center", behavior: "smooth" });  // where the eye can see it
    },

    placeholder(id) {
      if (!this.byId.has(id)) this.update({ id, state: "pending", state_word: "…", running: true, prompt: "", created: Date.now() / 1000, actions: {} });
    },

    // The last few things the follow stream did, for whoever debugs a page that stopped moving.
    trace: [],
    note(what) {
      this.trace.push(`${Math.round(performance.now())} ${what}`);
      if (this.trace.length > 40) this.trace.shift();
    },

    async follow() {
      if (this.stream) this.stream.abort();
      const ids = tabJobs();
      if (!ids.length) return;
      const controller = new AbortController();
      this.stream = controller;
      this.note(`open ${ids.length}`);
      try {
        const response = await fetch("/suxi/follow", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ visitor: visitor(), lang: lang(), ids }),
          signal: controller.signal,
        });
        this.note(`status ${response.status}`);
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            if (!frame.startsWith("data: ")) continue;
            // One card that cannot be drawn must not stop the others from updating.
            try { this.update(JSON.parse(frame.slice(6))); } catch (e) { console.error("suxi: a card update failed", e); }
          }
        }
        this.retry = 0;
        this.note("ended");
      } catch (e) {
        this.note(`error ${controller.signal.aborted ? "(aborted)" : e}`);
        if (controller.signal.aborted) return;
        this.retry = Math.min(this.retry + 1, 6);
      }
      if (this.stream !== controller) return;
      this.stream = null;
      const running = [...this.byId.values()].some((c) => c.data.running);
      if (running) setTimeout(() => { if (!this.stream) this.follow(); }, 500 * 2 ** this.retry);
    },

    update(data) {
      if (data.gone) {
        const known = this.byId.get(data.id);
        if (known) known.node.remove();
        this.byId.delete(data.id);
        saveTabJobs(tabJobs().filter((i) => i !== data.id));
        return;
      }
      let entry = this.byId.get(data.id);
      const before = entry ? entry.data : null;
      // An action's answer and the follow stream can cross: never step back to an older snapshot.
      if (before && before.updated > data.updated) return;
      if (!entry) {
        entry = { node: el("article", "suxi-card"), data };
        entry.node.dataset.job = data.id;
        entry.node.setAttribute("aria-live", "polite");
        this.byId.set(data.id, entry);
        this.place(entry, data);
      }
      entry.data = data;
      renderCard(entry.node, data, before, this.actions(data));
      if (before && before.running && !data.running) this.finished(entry, data);
      this.batchLine(data);
      this.title();
    },

    place(entry, data) {
      const group = data.group && data.group.id;
      if (group) {
        let row = this.root.querySelector(`.suxi-group[data-group="${CSS.escape(group)}"]`);
        if (!row) {
          row = el("section", `suxi-group ${data.group.kind}`);
          row.dataset.group = group;
          this.root.prepend(row);
        }
        row.appendChild(entry.node);
      } else {
        this.root.prepend(entry.node);
      }
    },

    batchLine(data) {
      if (!data.group || data.group.kind !== "batch") return;
      const row = this.root.querySelector(`.suxi-group[data-group="${CSS.escape(data.group.id)}"]`);
      if (!row) return;
      const members = [...this.byId.values()].filter((c) => c.data.group && c.data.group.id === data.group.id);
      const done = members.filter((c) => c.data.state === "done").length;
      const failed = members.filter((c) => c.data.ended && c.data.state !== "done").length;
      let line = row.querySelector(".suxi-batch-line");
      if (!line) {
        line = el("div", "suxi-batch-line");
        line.appendChild(el("span", "suxi-batch-text"));
        const stop = el("button", "suxi-button stop", w("card_batch_stop"));
        stop.onclick = () => this.act("stop_batch", data.id);
        line.appendChild(stop);
        row.prepend(line);
      }
      line.querySelector(".suxi-batch-text").textContent = w("card_batch", { done, total: members.length, failed });
      line.querySelector("button").disabled = !members.some((c) => c.data.running);
    },

    finished(entry, data) {
      // The balance again, so what the job cost shows (a click on the page's own button).
      clearTimeout(this.balanceTimer);
      this.balanceTimer = setTimeout(() => document.querySelector("#balance-check")?.click(), 1500);
      if (data.state === "done") {
        const video = entry.node.querySelector("video");
        if (video) {
          entry.node.scrollIntoView({ block: "center", behavior: "smooth" });
          video.muted = true;
          video.play().catch(() => {});
        }
      }
      notify(data);
    },

    tick() {
      const now = Date.now() / 1000;
      for (const { node, data } of this.byId.values()) {
        const c = node.querySelector(".suxi-clock");
        if (c && data.created) c.textContent = clock((data.finished || (data.running ? now : data.created)) - data.created);
      }
    },

    title() {
      const mine = [...this.byId.values()].map((c) => c.data);
      const running = mine.filter((d) => d.running && d.id);
      let prefix = "";
      if (running.length) {
        const pcts = running.map((d) => d.percent || 0);
        prefix = `[${Math.round(pcts.reduce((a, b) => a + b, 0) / pcts.length)}%] `;
      } else if (mine.length) {
        const last = mine.reduce((a, b) => ((b.finished || 0) > (a.finished || 0) ? b : a));
        if (last.ended) prefix = last.state === "done" ? "✓ " : "✗ ";
      }
      document.title = prefix + title();
    },

    actions(data) {
      return {
        stop: () => this.act("stop", data.id),
        check: () => this.act("check", data.id),
        again: () => this.act("again", data.id),
        remove: () => {
          saveTabJobs(tabJobs().filter((i) => i !== data.id));
          const entry = this.byId.get(data.id);
          if (entry) entry.node.remove();
          this.byId.delete(data.id);
          this.title();
        },
        modify: (text) => this.act("modify", data.id, { text }),
        share: (on) => this.act(on ? "share" : "unshare", data.id),
      };
    },

    async act(action, id, extra) {
      const entry = this.byId.get(id);
      try {
        const result = await post("/suxi/act", { action, id, ...(extra || {}) });
        if (result.card) this.update(result.card);
        if (result.started) this.adopt(result.started);
        if (entry && result.message) say(entry.node, result.message, result.ok ? "ok" : "error");
        if (action === "check" && result.card && result.card.running) this.follow();
        return result;
      } catch (e) {
        if (entry) say(entry.node, String(e), "error");
        return { ok: false };
      }
    },
  };

  function say(node, text, tone) {
    let box = node.querySelector(":scope > .suxi-said");
    if (!box) {
      box = el("p", "suxi-said");
      box.setAttribute("role", "status");
      node.appendChild(box);
    }
    box.className = `suxi-said ${tone || ""}`;
    box.textContent = text;
  }

  // One card, rendered into `node` (kept across updates so the video keeps playing).
  function renderCard(node, d, before, act) {
    node.className = `suxi-card state-${d.state}${d.failed ? " failed" : ""}`;
    if (!node.firstChild) {
      node.innerHTML = "";
      const head = el("header", "suxi-head");
      head.append(el("span", "suxi-state"), el("span", "suxi-percent"), el("span", "suxi-eta"), el("span", "suxi-clock"));
      const bar = el("div", "suxi-bar");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.appendChild(el("div", "suxi-fill"));
      node.append(head, bar, el("p", "suxi-prompt"), el("p", "suxi-made-from"), el("p", "suxi-status"),
        el("p", "suxi-hint"), el("ul", "suxi-steps"), el("div", "suxi-player"), el("div", "suxi-understood"),
        el("div", "suxi-buttons"), el("div", "suxi-modify"), el("details", "suxi-details"));
    }
    const q = (s) => node.querySelector(s);
    q(".suxi-state").textContent = d.state_word || d.state;
    q(".suxi-percent").textContent = d.percent !== null && d.percent !== undefined ? `${Math.round(d.percent)}%` : "";
    q(".suxi-eta").textContent = d.eta || "";
    const bar = q(".suxi-bar");
    bar.classList.toggle("busy", !!d.running && (d.percent === null || d.percent === undefined));
    bar.setAttribute("aria-valuenow", String(Math.round(d.percent || 0)));
    q(".suxi-fill").style.width = `${Math.max(0, Math.min(100, d.percent || 0))}%`;
    q(".suxi-prompt").textContent = d.prompt || "";
    q(".suxi-made-from").textContent = d.made_from || "";
    const status = q(".suxi-status");
    status.textContent = d.ended ? d.status || "" : "";
    status.classList.toggle("error", !!d.failed);
    status.setAttribute("role", d.failed ? "alert" : "status");
    q(".suxi-hint").textContent = [d.hint, d.ended ? d.note : ""].filter(Boolean).join(" ");
    const steps = q(".suxi-steps");
    steps.replaceChildren(...(d.steps || []).map((s) => el("li", "", s)));
    renderPlayer(q(".suxi-player"), d, before);
    renderUnderstood(q(".suxi-understood"), d.understood || []);
    renderButtons(q(".suxi-buttons"), d, act);
    renderModify(q(".suxi-modify"), d, act);
    renderDetails(q(".suxi-details"), d.details || {});
    const c = q(".suxi-clock");
    if (d.ended && d.finished) c.textContent = clock(d.finished - d.created);
    else if (!c.textContent) c.textContent = "0:00";
    c.title = w("card_elapsed");
    c.setAttribute("aria-label", w("card_elapsed"));
  }

  function renderPlayer(box, d, before) {
    if (!d.video) {
      if (d.pruned) box.replaceChildren(el("p", "suxi-hint", w("card_pruned")));
      else box.replaceChildren();
      return;
    }
    const existing = box.querySelector("video");
    if (existing && existing.dataset.src === d.video) return;
    const video = el("video");
    video.dataset.src = d.video;
    video.src = d.video;
    video.controls = true;
    video.loop = true;
    video.muted = true;
    video.playsInline = true;
    video.preload = "metadata";
    if (d.poster) video.poster = d.poster;
    if (before && before.running) video.autoplay = true;
    const link = el("a", "suxi-download", w("card_download"));
    link.href = `${d.video}?download=1`;
    link.setAttribute("download", "");
    box.replaceChildren(video, link);
  }

  function renderUnderstood(box, rows) {
    if (!rows.length) { box.replaceChildren(); return; }
    const details = el("details");
    details.open = true;
    details.appendChild(el("summary", "", w("card_understood")));
    const dl = el("dl");
    for (const [label, applied, asked] of rows) {
      dl.appendChild(el("dt", "", label));
      dl.appendChild(el("dd", "", asked ? `${applied || "—"} (${w("card_asked")}: ${asked})` : applied));
    }
    details.appendChild(dl);
    const open = box.querySelector("details");
    if (open) details.open = open.open;
    box.replaceChildren(details);
  }

  function button(text, cls, handler, enabled) {
    const b = el("button", `suxi-button ${cls}`, text);
    b.type = "button";
    b.disabled = !enabled;
    b.onclick = async () => { b.disabled = true; try { await handler(); } finally { b.disabled = !enabled; } };
    return b;
  }

  function renderButtons(box, d, act) {
    const a = d.actions || {};
    const offer = JSON.stringify([a, !!d.shared, !!d.ended, !!d.running, !!act.remove]);
    if (box.dataset.offer === offer) return;
    box.dataset.offer = offer;
    const list = [];
    if (a.stop || d.running) list.push(button(w("card_stop"), "stop", act.stop, !!a.stop));
    if (a.check) list.push(button(w("card_check"), "", act.check, true));
    if (a.again) list.push(button(w("card_again"), "", act.again, true));
    if (a.share) list.push(button(d.shared ? w("card_unshare") : w("card_share"), "", async () => {
      const result = await act.share(!d.shared);
      if (result && result.card && result.card.share_url) say(box.parentNode, await copyShare(result.card), "ok");
    }, true));
    if (d.ended && act.remove) list.push(button(w("card_close"), "quiet", act.remove, true));
    box.replaceChildren(...list);
  }

  function renderModify(box, d, act) {
    const can = d.actions && d.actions.modify;
    if (!can && !d.modify_note) { box.replaceChildren(); return; }
    if (box.dataset.ready === String(can)) return;
    box.dataset.ready = String(can);
    const details = el("details");
    details.appendChild(el("summary", "", w("card_modify")));
    if (!can) {
      details.appendChild(el("p", "suxi-hint", d.modify_note));
    } else {
      const input = el("textarea");
      input.rows = 2;
      input.placeholder = w("card_modify_ph");
      input.setAttribute("aria-label", w("card_modify"));
      const go = button(w("card_modify_go"), "primary", async () => {
        const result = await act.modify(input.value);
        if (result && result.ok) input.value = "";
      }, true);
      details.append(input, go);
    }
    box.replaceChildren(details);
  }

  function renderDetails(box, x) {
    const items = [];
    const row = (label, value) => {
      if (!value) return;
      const p = el("p");
      p.append(el("span", "suxi-label", `${label}: `), el("code", "", value));
      items.push(p);
    };
    row(w("card_task"), x.task_id);
    row(w("card_sid"), x.sid);
    row(w("card_route"), x.route);
    for (const link of x.links || []) {
      const a = el("a", "", w("card_status_page"));
      a.href = link;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      const p = el("p");
      p.appendChild(a);
      items.push(p);
    }
    if ((x.lines || []).length) {
      items.push(el("p", "suxi-label", w("card_raw")));
      const pre = el("pre", "suxi-raw", x.lines.join("\n"));
      items.push(pre);
    }
    const open = box.open;
    box.replaceChildren(el("summary", "", w("card_details")), ...items);
    box.open = open;
    box.hidden = items.length === 0;
  }

  // ─────────────────────── notifications, sound ───────────────────────
  function notify(d) {
    if (localStorage.getItem(NOTIFY) === "off") return;
    if (document.visibilityState !== "hidden") return;
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const title = d.state === "done" ? `✓ ${d.state_word}` : `✗ ${d.state_word}`;
    try { new Notification(title, { body: (d.prompt || "").slice(0, 120), tag: d.id }); } catch (e) { /* not allowed here */ }
    if (localStorage.getItem(SOUND) === "on") beep(d.state === "done");
  }
  function beep(good) {
    try {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      osc.frequency.value = good ? 880 : 220;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.15);
    } catch (e) { /* no audio */ }
  }

  // The visible switches: notifications (on unless turned off) and a short sound (off).
  function switches() {
    const bar = el("div", "suxi-switches");
    const make = (key, label, on) => {
      const box = el("label", "suxi-switch");
      const input = el("input");
      input.type = "checkbox";
      input.checked = on();
      input.onchange = () => localStorage.setItem(key, input.checked ? "on" : "off");
      box.append(input, el("span", "", w(label)));
      return box;
    };
    bar.append(
      make(NOTIFY, "card_notify", () => localStorage.getItem(NOTIFY) !== "off"),
      make(SOUND, "card_sound", () => localStorage.getItem(SOUND) === "on"),
    );
    return bar;
  }

  // Asked the first time the visitor presses Generate, never on load.
  function askPermission() {
    if (localStorage.getItem(NOTIFY) === "off") return;
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission().catch(() => {});
  }

  // ─────────────────────────── the form ───────────────────────────
  // Gradio events call this (their `js`): the page's facts go in the hidden last input.
  function facts() {
    return JSON.stringify({ visitor: visitor(), lang: lang() });
  }
  // `what` is "batch" for the batch button: its prompts come from the box and maybe a file
  // the page cannot count, so the question then says "one paid request per prompt".
  function pageInfo(what) {
    let confirmed = true;
    if (apiKey()) {
      if (what === "batch") {
        const lines = (document.querySelector("#batch-text textarea") || { value: "" }).value.split("\n").filter((l) => l.trim()).length;
        const file = !!document.querySelector("#batch-file .file-preview, #batch-file a[download], #batch-file table");
        if (file || lines > 1) confirmed = window.confirm(w("card_confirm_batch"));
      } else {
        const countBox = document.querySelector("#count input[type=number]");
        const n = Number(countBox ? countBox.value : 1) || 1;
        if (n > 1) confirmed = window.confirm(w("card_confirm_paid", { n }));
      }
    }
    askPermission();
    return JSON.stringify({ visitor: visitor(), lang: lang(), confirmed });
  }

  // "Remember on this browser": the key stays in this browser's storage only when asked.
  const KEY = "suxi-key";
  const hide = (k) => btoa(unescape(encodeURIComponent(k))).split("").reverse().join("");
  const unhide = (k) => { try { return decodeURIComponent(escape(atob(k.split("").reverse().join("")))); } catch (e) { return ""; } };
  function rememberKey(key, on) {
    if (on && key) localStorage.setItem(KEY, hide(key));
    else localStorage.removeItem(KEY);
    return [];
  }
  // A share link made absolute and put on the clipboard; the sentence that says so.
  async function copyShare(card) {
    const url = new URL(card.share_url, location.href).href;
    try { await navigator.clipboard.writeText(url); } catch (e) { /* the sentence shows it anyway */ }
    return `${w("card_sharing")} ${url}`;
  }
  function forgetKey() {
    localStorage.removeItem(KEY);
    return ["", false];
  }
  function savedKey() {
    const stored = localStorage.getItem(KEY);
    if (stored) return [unhide(stored), true];
    // Nothing kept: leave what the visitor may already have typed or ticked as it is (this runs
    // when the page has loaded, which can be after their first keystrokes).
    const remember = document.querySelector("#remember input");
    return [apiKey(), Boolean(remember && remember.checked)];
  }

  function promptBox() {
    const box = document.querySelector("#prompt textarea");
    if (!box || box.dataset.suxi) return;
    box.dataset.suxi = "1";
    const holder = document.querySelector("#prompt");
    const found = holder && [...holder.classList].find((c) => c.startsWith("limit-"));
    const limit = found ? Number(found.slice(6)) : 4000;
    const counter = el("div", "suxi-counter");
    counter.setAttribute("aria-live", "polite");
    (document.querySelector("#prompt") || box.parentNode).appendChild(counter);
    const show = () => {
      const n = box.value.length;
      counter.textContent = n > limit ? w("card_too_long", { over: n - limit }) : w("card_counter", { n, limit });
      counter.classList.toggle("over", n > limit);
      sessionStorage.setItem(PROMPT, box.value);
    };
    const saved = sessionStorage.getItem(PROMPT);
    if (saved && !box.value) {
      box.value = saved;
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }
    box.addEventListener("input", show);
    show();
  }

  function languageSwitch() {
    const button = document.querySelector("#lang-switch");
    if (!button || button.dataset.suxi) return;
    button.dataset.suxi = "1";
    button.addEventListener("click", () => {
      localStorage.setItem(LANG, lang() === "zh" ? "en" : "zh");
      location.reload();
    }, true);
  }

  // The banner says which key pays: the site's, the demo's, or the visitor's own.
  function bannerTruth(root) {
    const banner = (root || document).querySelector("#banner");
    if (!banner) return;
    const base = banner.dataset.kind;
    const box = document.querySelector("#api-key input, #api-key textarea");
    const show = () => {
      const own = !!(box && box.value.trim());
      const mode = own ? "own" : base;
      const text = w(own ? "banner_own" : `banner_${base}`, { relay: banner.dataset.relay || "" });
      const target = banner.querySelector(".suxi-banner-text");
      // Only real changes: the page watches its own DOM, and an unchanged write would echo.
      if (banner.dataset.mode !== mode) banner.dataset.mode = mode;
      if (target.textContent !== text) target.textContent = text;
      if (own && localStorage.getItem(KEY)) localStorage.setItem(KEY, hide(box.value.trim()));
    };
    if (box && !box.dataset.suxi) {
      box.dataset.suxi = "1";
      box.addEventListener("input", show);
      show();
    } else if (!banner.dataset.mode) {
      show();
    }
  }

  const observer = new MutationObserver(() => { promptBox(); languageSwitch(); bannerTruth(); });

  const watch = () => { observer.observe(document.body, { childList: true, subtree: true }); promptBox(); languageSwitch(); bannerTruth(); };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();

  window.suxi = {
    visitor, lang, pageInfo, facts, rememberKey, forgetKey, savedKey, cards, words, w, el, post, clock, say, renderCard, copyShare,
    mountCards: (element, props, watch) => cards.mount(element, props, watch),
    mountBanner: (element, props) => { learn(props.words); bannerTruth(element); },
    learn,
  };
})();
