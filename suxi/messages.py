"""What the person reads, in English and Chinese: one plain sentence per error kind, saying what
happened and what to do. The relay's own words are appended verbatim where it gave some."""

from __future__ import annotations

LANGS = ("en", "zh")

ERRORS: dict[str, dict[str, str]] = {
    "empty_prompt": {
        "en": "Please describe the video you want first.",
        "zh": "请先描述你想要的视频。",
    },
    "prompt_too_long": {
        "en": "The description is too long ({length} characters); please keep it under {limit}.",
        "zh": "描述太长（{length} 个字符），请控制在 {limit} 个字符以内。",
    },
    "bad_max_tokens": {
        "en": "max_tokens must be a whole number from {low} to {high}.",
        "zh": "max_tokens 必须是 {low} 到 {high} 之间的整数。",
    },
    "bad_key": {
        "en": "The API key looks wrong (it is empty or contains spaces); paste it again.",
        "zh": "API 密钥格式不对（为空或含有空格），请重新粘贴。",
    },
    "bad_base_url": {
        "en": "The relay address (SUXI_BASE_URL) is not a valid http(s) address; fix it and restart.",
        "zh": "中转站地址（SUXI_BASE_URL）不是有效的 http(s) 地址，请修改后重启。",
    },
    "busy": {
        "en": "Too many videos are being made right now; please try again in a few minutes.",
        "zh": "当前生成任务太多，请几分钟后再试。",
    },
    "image_unreadable": {
        "en": "That file is not an image the app can read; use a JPEG, PNG, WebP, GIF or BMP "
        "picture.",
        "zh": "无法读取这个文件，请使用 JPEG、PNG、WebP、GIF 或 BMP 图片。",
    },
    "image_too_large": {
        "en": "That image is too large (over 30 MB or too many pixels); pick a smaller one.",
        "zh": "图片太大（超过 30 MB 或像素过多），请换一张小一些的图片。",
    },
    "image_url": {
        "en": "The picture address must be a public https:// link without spaces or a password, "
        "at most 2048 characters; or choose a file instead.",
        "zh": "图片地址必须是公开的 https:// 链接，不含空格或密码，且不超过 2048 个字符；也可以改为选择本地文件。",
    },
    "not_modifiable": {
        "en": "Only a finished video can be changed; open one that is done first.",
        "zh": "只能修改已完成的视频，请先打开一个已完成的视频。",
    },
    "visitor_running": {
        "en": "You already have {limit} videos being made; wait for one to finish first.",
        "zh": "你已有 {limit} 个视频正在生成，请等其中一个完成后再试。",
    },
    "visitor_hourly": {
        "en": "You have reached this site's limit of {limit} videos per hour; try again later "
        "or use your own API key.",
        "zh": "你已达到本站每小时 {limit} 个视频的上限，请稍后再试，或使用你自己的 API 密钥。",
    },
    "no_key": {
        "en": "This site has no API key of its own; paste your relay API key under “Your API key”.",
        "zh": "本站没有自己的 API 密钥，请在“你的 API 密钥”中粘贴你的中转站密钥。",
    },
    "auth": {
        "en": "The relay refused the API key: it is wrong, expired or used up. Check the key.",
        "zh": "中转站拒绝了这个 API 密钥：密钥错误、已过期或额度已用尽，请检查密钥。",
    },
    "quota": {
        "en": "The account balance is too low, or this key may not use this model. "
        "Top up or choose another model.",
        "zh": "账户余额不足，或该密钥无权使用此模型。请充值或换一个模型。",
    },
    "rate_limit": {
        "en": "Too many requests to the relay; wait {wait} and try again.",
        "zh": "请求过于频繁，请等待{wait}后再试。",
    },
    "unavailable": {
        "en": "This model is not available on this key right now; try again later or pick "
        "another model.",
        "zh": "该模型目前在此密钥的分组下不可用，请稍后再试或换一个模型。",
    },
    "bad_request": {
        "en": "The relay refused the request as invalid; check the model name and settings.",
        "zh": "中转站认为请求无效，请检查模型名称和设置。",
    },
    "not_found": {
        "en": "The relay has no such endpoint; check the relay address (SUXI_BASE_URL).",
        "zh": "中转站没有这个接口，请检查中转站地址（SUXI_BASE_URL）。",
    },
    "server": {
        "en": "The relay or its upstream failed. Your request may have been charged; check the "
        "relay's usage log before trying again.",
        "zh": "中转站或其上游出错。这次请求可能已扣费，请先查看中转站的使用记录再重试。",
    },
    "proxy_timeout": {
        "en": "A proxy in front of the relay gave up waiting. The video may still be generated: "
        "use “check again” later.",
        "zh": "中转站前面的代理等待超时。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "proxy_timeout_nostream": {
        "en": "A proxy in front of the relay gave up waiting, which is common without streaming: "
        "turn streaming on. The video may still be generated: use “check again” later.",
        "zh": "中转站前面的代理等待超时，关闭流式时很常见，请打开流式。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "relay_down": {
        "en": "The relay is unavailable right now; try again in a few minutes.",
        "zh": "中转站暂时不可用，请几分钟后再试。",
    },
    "broken_stream": {
        "en": "The relay's stream broke (it sent data the app cannot read) before the video "
        "arrived. The video may still be generated: use “check again” later.",
        "zh": "视频返回之前，中转站的数据流出现了无法读取的内容。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "connect": {
        "en": "Could not reach the relay; check the internet connection and the relay address.",
        "zh": "无法连接到中转站，请检查网络和中转站地址。",
    },
    "stall": {
        "en": "The relay went silent for too long and the connection was closed. The video may "
        "still be generated: use “check again” later.",
        "zh": "中转站长时间没有响应，连接已断开。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "deadline": {
        "en": "The generation took longer than the time limit and was stopped. The video may "
        "still be generated: use “check again” later.",
        "zh": "生成超过了时间上限，已停止等待。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "dropped": {
        "en": "The connection to the relay broke before the video arrived. The video may still "
        "be generated: use “check again” later.",
        "zh": "视频返回之前与中转站的连接断开了。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "bad_reply": {
        "en": "The relay sent something that is not a reply (a web page or broken data); try "
        "again later.",
        "zh": "中转站返回的不是有效回复（网页或损坏的数据），请稍后再试。",
    },
    "relay": {
        "en": "The relay reported that the generation failed.",
        "zh": "中转站报告生成失败。",
    },
    "content_policy": {
        "en": "The model refused this request under its content policy; rephrase the description.",
        "zh": "模型依据内容政策拒绝了这个请求，请换一种描述方式。",
    },
    "overloaded": {
        "en": "The relay is under heavy load and refused the job without charging; try again in "
        "a few minutes.",
        "zh": "中转站负载过高，拒绝了任务（未扣费），请几分钟后再试。",
    },
    "no_video": {
        "en": "The relay finished without sending a video. Use “check again” later, or try again.",
        "zh": "中转站结束了回复，但没有给出视频。稍后可点“再次查询”，或重新生成。",
    },
    "download": {
        "en": "The video was made but could not be downloaded; use “check again” to retry.",
        "zh": "视频已生成，但下载失败，可点“再次查询”重试。",
    },
    "unsafe_url": {
        "en": "The relay's video link points to an address the app will not fetch (not a public "
        "web address).",
        "zh": "中转站给出的视频链接不是公开网址，出于安全原因不予下载。",
    },
    "too_large": {
        "en": "The video is larger than the size limit (SUXI_MAX_VIDEO_MB) and was not kept.",
        "zh": "视频超过大小上限（SUXI_MAX_VIDEO_MB），未保存。",
    },
    "interrupted": {
        "en": "The app stopped while this video was being made; use “check again”.",
        "zh": "生成过程中应用被重启，可点“再次查询”。",
    },
    "cancelled": {
        "en": "Stopped. The relay may still charge for work it had already started.",
        "zh": "已停止。中转站可能仍会对已开始的任务扣费。",
    },
    "recovered": {
        "en": "Found it: the relay had finished this video, and it is now saved here.",
        "zh": "找到了：中转站已完成这个视频，现已保存到这里。",
    },
    "still_running": {
        "en": "The relay is still working on this video ({percent}); check again in a minute.",
        "zh": "中转站仍在生成这个视频（{percent}），请一分钟后再查询。",
    },
    "relay_failed": {
        "en": "The relay says this video failed, so there is nothing to recover.",
        "zh": "中转站表示这个视频生成失败，没有可恢复的内容。",
    },
    "no_recovery": {
        "en": "The relay gives no way to look this job up (no task id, or no task-status "
        "endpoint), so it cannot be recovered here.",
        "zh": "中转站没有提供查询这个任务的方式（没有任务 ID 或没有任务查询接口），无法在这里恢复。",
    },
    "not_applicable": {
        "en": "This job is finished or still running; there is nothing to check.",
        "zh": "这个任务已完成或仍在进行，无需查询。",
    },
    "deleted": {
        "en": "Deleted, together with its video file.",
        "zh": "已删除，视频文件也已一并删除。",
    },
    "not_found_job": {
        "en": "There is no such video in your list.",
        "zh": "你的列表里没有这个视频。",
    },
    "unknown": {
        "en": "Something unexpected went wrong; please try again.",
        "zh": "发生了意外错误，请重试。",
    },
}

WORDS: dict[str, dict[str, str]] = {
    "relay_said": {"en": "The relay said: ", "zh": "中转站原文："},
    "seconds": {"en": "{n} seconds", "zh": "{n} 秒"},
    "a_minute": {"en": "a minute", "zh": "一分钟"},
}


def pick_language(accept_language: str | None) -> str:
    """The first supported language in an ``Accept-Language`` header (English otherwise)."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def word(key: str, lang: str, **values: object) -> str:
    return WORDS[key].get(lang, WORDS[key]["en"]).format(**values)


def explain(kind: str, lang: str = "en", relay_text: str = "", **values: object) -> str:
    """One readable sentence for an error kind, plus the relay's own words if it gave some."""
    table = ERRORS.get(kind, ERRORS["unknown"])
    if kind == "rate_limit" and "wait" not in values:
        retry = str(values.pop("retry_after", "") or "")
        values["wait"] = (
            word("seconds", lang, n=retry) if retry.isdigit() else word("a_minute", lang)
        )
    try:
        text = table.get(lang, table["en"]).format(**values)
    except (KeyError, IndexError):
        text = ERRORS["unknown"][lang if lang in LANGS else "en"]
    relay_text = " ".join(relay_text.split())[:500]
    if relay_text and relay_text not in text:
        gap = "" if lang == "zh" else " "  # Chinese puts no space after 。
        text = f"{text}{gap}{word('relay_said', lang)}{relay_text}"
    return text
