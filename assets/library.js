/* My videos: the visitor's whole library as a gallery (newest first, filter, search, pages),
 * a detail view that reuses the job card, .zip of the selected, and a recovery link.
 * Needs page.js (window.suxi). Everything from the server is set as text. */
(() => {
  "use strict";
  const S = () => window.suxi;

  const library = {
    root: null,
    filter: "all",
    search: "",
    offset: 0,
    total: 0,
    selected: new Set(),
    tiles: new Map(),

    mount(element, props) {
      S().learn(props.words);
      this.root = element.querySelector(".suxi-library") || element;
      this.build();
      // Load when the tab is shown (and again each time it is shown).
      new IntersectionObserver((seen) => { if (seen.some((e) => e.isIntersecting)) this.load(true); }).observe(this.root);
    },

    build() {
      const { el, w } = S();
      const bar = el("div", "suxi-lib-bar");
      const chips = el("div", "suxi-chips");
      chips.setAttribute("role", "radiogroup");
      for (const [key, label] of [["all", "lib_all"], ["done", "lib_done"], ["running", "lib_running"], ["failed", "lib_failed"]]) {
        const chip = el("button", "suxi-chip", w(label));
        chip.type = "button";
        chip.dataset.filter = key;
        chip.setAttribute("role", "radio");
        chip.onclick = () => { this.filter = key; this.load(true); };
        chips.appendChild(chip);
      }
      const search = el("input", "suxi-search");
      search.type = "search";
      search.placeholder = w("lib_search");
      search.setAttribute("aria-label", w("lib_search"));
      let timer = null;
      search.oninput = () => { clearTimeout(timer); timer = setTimeout(() => { this.search = search.value; this.load(true); }, 300); };
      const count = el("span", "suxi-lib-count");
      const zip = el("button", "suxi-button", "");
      zip.type = "button";
      zip.className = "suxi-button suxi-zip";
      zip.onclick = () => this.zip();
      const recover = el("button", "suxi-button quiet", w("lib_recovery"));
      recover.type = "button";
      recover.onclick = () => this.recovery();
      bar.append(chips, search, count, zip, recover);
      this.grid = el("div", "suxi-grid");
      this.more = el("button", "suxi-button suxi-more", w("lib_more"));
      this.more.type = "button";
      this.more.onclick = () => this.load(false);
      this.detail = el("dialog", "suxi-detail");
      this.note = el("div", "suxi-recovery");
      this.root.replaceChildren(bar, this.note, this.grid, this.more, this.detail);
      this.updateBar();
    },

    updateBar() {
      const { w } = S();
      for (const chip of this.root.querySelectorAll(".suxi-chip")) chip.setAttribute("aria-checked", String(chip.dataset.filter === this.filter));
      this.root.querySelector(".suxi-lib-count").textContent = this.total === 1 ? w("lib_count_one") : w("lib_count", { n: this.total });
      const zip = this.root.querySelector(".suxi-zip");
      zip.textContent = w("lib_zip", { n: this.selected.size });
      zip.disabled = this.selected.size === 0;
      this.more.hidden = this.offset >= this.total;
    },

    async load(fresh) {
      if (fresh) { this.offset = 0; this.tiles.clear(); this.grid.replaceChildren(); }
      let page;
      try {
        page = await S().post("/suxi/library", { filter: this.filter, search: this.search, offset: this.offset });
      } catch (e) { return; }
      this.total = page.total;
      for (const card of page.cards) this.tile(card);
      this.offset += page.cards.length;
      if (!this.total) this.grid.replaceChildren(S().el("p", "suxi-empty", S().w("lib_empty")));
      this.updateBar();
    },

    tile(card) {
      const { el } = S();
      let tile = this.tiles.get(card.id);
      const fresh = !tile;
      if (fresh) {
        tile = el("article", "suxi-tile");
        tile.dataset.job = card.id;
        tile.tabIndex = 0;
        this.tiles.set(card.id, tile);
        this.grid.appendChild(tile);
        tile.onclick = (event) => { if (!event.target.closest("input")) this.open(tile.card); };
        tile.onkeydown = (event) => { if (event.key === "Enter") this.open(tile.card); };
      }
      tile.card = card;
      tile.className = `suxi-tile state-${card.state}`;
      const picture = el("div", "suxi-thumb");
      if (card.poster) {
        const img = el("img");
        img.src = card.poster;
        img.alt = "";
        img.loading = "lazy";
        picture.appendChild(img);
      } else if (card.video) {
        // No thumbnail from the relay: the browser draws the first frame itself.
        const video = el("video");
        video.src = `${card.video}#t=0.1`;
        video.preload = "metadata";
        video.muted = true;
        video.playsInline = true;
        picture.appendChild(video);
      } else {
        picture.appendChild(el("span", "suxi-thumb-state", card.state_word));
      }
      const pick = el("input");
      pick.type = "checkbox";
      pick.className = "suxi-pick";
      pick.disabled = !card.video;
      pick.checked = this.selected.has(card.id);
      pick.setAttribute("aria-label", S().w("lib_select"));
      pick.onchange = () => { pick.checked ? this.selected.add(card.id) : this.selected.delete(card.id); this.updateBar(); };
      const meta = el("div", "suxi-tile-meta");
      const when = new Date(card.created * 1000).toLocaleString(S().lang() === "zh" ? "zh-CN" : undefined, { dateStyle: "medium", timeStyle: "short" });
      const length = card.finished && card.state === "done" ? S().clock(card.finished - card.created) : "";
      meta.append(
        el("p", "suxi-tile-prompt", (card.made_from ? "↳ " : "") + card.prompt),
        el("p", "suxi-tile-line", [card.state_word, card.model, length, when].filter(Boolean).join(" · ")),
      );
      if (card.group) meta.appendChild(el("p", "suxi-tile-line", `#${card.group.index + 1} · ${card.group.kind}`));
      tile.replaceChildren(picture, pick, meta);
    },

    open(card) {
      const { el, renderCard, w } = S();
      const node = el("article", "suxi-card");
      node.dataset.job = card.id;
      const close = el("button", "suxi-button quiet suxi-close", "×");
      close.type = "button";
      close.setAttribute("aria-label", w("card_close"));
      close.onclick = () => this.detail.close();
      const remove = el("button", "suxi-button stop", w("card_delete"));
      remove.type = "button";
      remove.onclick = async () => {
        if (!window.confirm(w("card_confirm_delete"))) return;
        const result = await S().post("/suxi/act", { action: "delete", id: card.id });
        if (result.ok) {
          this.detail.close();
          const tile = this.tiles.get(card.id);
          if (tile) tile.remove();
          this.tiles.delete(card.id);
          this.selected.delete(card.id);
          this.total = Math.max(0, this.total - 1);
          this.updateBar();
        } else S().say(node, result.message, "error");
      };
      const act = {
        stop: () => this.act(node, "stop", card.id),
        check: () => this.act(node, "check", card.id),
        again: () => this.act(node, "again", card.id),
        modify: (text) => this.act(node, "modify", card.id, { text }),
        share: (on) => this.act(node, on ? "share" : "unshare", card.id),
      };
      renderCard(node, card, null, act);
      this.detail.replaceChildren(close, node, remove);
      if (!this.detail.open) this.detail.showModal();
    },

    async act(node, action, id, extra) {
      const result = await S().post("/suxi/act", { action, id, ...(extra || {}) });
      if (result.card) {
        this.tile(result.card);
        this.open(result.card);
        if (result.card.share_url && action === "share") result.message = await S().copyShare(result.card);
      }
      if (result.started && result.started.length) {
        this.detail.close();
        S().cards.adopt(result.started);
        const tab = [...document.querySelectorAll('[role="tab"]')][0];
        if (tab) tab.click();
      } else if (result.message) {
        S().say(this.detail.querySelector(".suxi-card"), result.message, result.ok ? "ok" : "error");
      }
      return result;
    },

    async zip() {
      const ids = [...this.selected];
      const response = await fetch("/suxi/zip", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ visitor: S().visitor(), ids }),
      });
      if (!response.ok) return;
      const blob = await response.blob();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "videos.zip";
      document.body.appendChild(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    },

    recovery() {
      const { el, w } = S();
      const link = `${location.origin}${location.pathname}#recover=${S().visitor()}`;
      const code = el("input", "suxi-recovery-link");
      code.readOnly = true;
      code.value = link;
      code.onclick = () => code.select();
      this.note.replaceChildren(el("p", "suxi-warn", w("lib_recovery_warn")), code);
    },
  };

  window.suxi.library = library;
  window.suxi.mountLibrary = (element, props) => library.mount(element, props);
})();
