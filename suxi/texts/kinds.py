"""One sentence per :class:`~suxi.kinds.Kind`: what happened, and what to do about it."""

KIND_TEXTS: dict[str, dict[str, str]] = {
    # — the visitor's input —
    "empty_prompt": {
        "en": "Please describe the video you want first.",
        "zh": "请先描述你想要的视频。",
    },
    "prompt_too_long": {
        "en": "The description is too long ({length} characters); please keep it under {limit}. Nothing was sent.",
        "zh": "描述太长（{length} 个字符），请控制在 {limit} 个字符以内。没有发送任何请求。",
    },
    "bad_max_tokens": {
        "en": "The reply length (max_tokens) must be a whole number from {low} to {high}.",
        "zh": "回复长度（max_tokens）必须是 {low} 到 {high} 之间的整数。",
    },
    "bad_option": {
        "en": "{model} does not take {name} “{value}”; choose one of: {allowed}.",
        "zh": "{model} 不支持{name}“{value}”，可选：{allowed}。",
    },
    "bad_model": {
        "en": "That is not a model name (letters, digits and - _ . : / only, at most 100 characters).",
        "zh": "这不是有效的模型名称（只能包含字母、数字和 - _ . : /，最多 100 个字符）。",
    },
    "model_not_allowed": {
        "en": "This site's key may not be used for “{model}”; pick one of the listed models, or use your own API key.",
        "zh": "本站的密钥不能用于“{model}”，请从列表中选择模型，或使用你自己的 API 密钥。",
    },
    "bad_key": {
        "en": "The API key looks wrong (it is empty or contains spaces); paste it again.",
        "zh": "API 密钥格式不对（为空或含有空格），请重新粘贴。",
    },
    "bad_base_url": {
        "en": "The relay address (SUXI_BASE_URL) is not a valid http(s) address; fix it and restart.",
        "zh": "中转站地址（SUXI_BASE_URL）不是有效的 http(s) 地址，请修改后重启。",
    },
    "no_key": {
        "en": "This site has no API key of its own; paste your relay API key under “Your API key”.",
        "zh": "本站没有自己的 API 密钥，请在“你的 API 密钥”中粘贴你的中转站密钥。",
    },
    "image_unreadable": {
        "en": "That file is not a picture the app can read; use a JPEG, PNG, WebP, GIF or BMP image. Nothing was sent.",
        "zh": "无法读取这个文件，请使用 JPEG、PNG、WebP、GIF 或 BMP 图片。没有发送任何请求。",
    },
    "image_too_large": {
        "en": "That picture is too large (too many megabytes or pixels); pick a smaller one. Nothing was sent.",
        "zh": "图片太大（文件或像素过多），请换一张小一些的图片。没有发送任何请求。",
    },
    "image_url": {
        "en": "The picture address must be a public https:// link without spaces or a password, at most 2048 characters; or choose a file instead.",
        "zh": "图片地址必须是公开的 https:// 链接，不含空格或密码，且不超过 2048 个字符；也可以改为选择本地文件。",
    },
    "image_needs_link": {
        "en": "This relay takes a starting picture only as a web link: put the picture online and paste its https:// address instead of uploading it.",
        "zh": "这个中转站只接受图片链接作为起始图片：请把图片放到网上，然后粘贴它的 https:// 地址，而不是上传文件。",
    },
    "picture_gone": {
        "en": "The starting picture of this video is no longer kept here, so it cannot be made again as it was; start a new one with the picture.",
        "zh": "这个视频的起始图片已不再保存，无法按原样再生成一次；请带上图片重新开始。",
    },
    "batch_waiting": {
        "en": "You already have {count} prompts waiting in batches (at most {limit}); wait for them or stop a batch first.",
        "zh": "你已有 {count} 个提示词在批量任务中等待（最多 {limit} 个），请等待它们完成或先停止一个批量任务。",
    },
    "not_modifiable": {
        "en": "Only a finished video can be changed; open one that is done first.",
        "zh": "只能修改已完成的视频，请先打开一个已完成的视频。",
    },
    "no_remix": {
        "en": "Videos made this way ({format}) cannot be changed on this relay; make a new video with the change in the description instead.",
        "zh": "以这种方式（{format}）生成的视频无法在这个中转站上修改，请把修改写进描述，重新生成一个视频。",
    },
    "batch_empty": {
        "en": "The list has no prompts: put one prompt per line (or one per row in the first column of a CSV).",
        "zh": "列表里没有提示词：每行写一个提示词（CSV 文件则每行第一列一个）。",
    },
    "batch_too_long": {
        "en": "The list has {count} prompts; at most {limit} can be sent as one batch.",
        "zh": "列表里有 {count} 个提示词，一次批量最多 {limit} 个。",
    },
    # — admission —
    "busy": {
        "en": "Too many videos are being made right now; please try again in a few minutes.",
        "zh": "当前生成任务太多，请几分钟后再试。",
    },
    "visitor_running": {
        "en": "You already have {limit} videos being made with this site's key; wait for one to finish, or use your own API key.",
        "zh": "你已有 {limit} 个视频正在用本站的密钥生成，请等其中一个完成，或使用你自己的 API 密钥。",
    },
    "visitor_hourly": {
        "en": "You have reached this site's limit of {limit} videos per hour; try again later or use your own API key.",
        "zh": "你已达到本站每小时 {limit} 个视频的上限，请稍后再试，或使用你自己的 API 密钥。",
    },
    "operator_running": {
        "en": "This site's key is busy with {limit} videos right now; try again in a few minutes, or use your own API key.",
        "zh": "本站的密钥正在生成 {limit} 个视频，请几分钟后再试，或使用你自己的 API 密钥。",
    },
    "operator_hourly": {
        "en": "This site's key has made its {limit} videos for this hour; try again later, or use your own API key.",
        "zh": "本站的密钥本小时已生成 {limit} 个视频，请稍后再试，或使用你自己的 API 密钥。",
    },
    "help_hourly": {
        "en": "You have used prompt help {limit} times this hour on this site's key; try again later or use your own key.",
        "zh": "本小时你已用本站密钥使用了 {limit} 次提示词优化，请稍后再试或使用你自己的密钥。",
    },
    # — the relay refused the request —
    "auth_site": {
        "en": "The relay refused this site's API key (wrong, expired or used up): the site's owner must check it. Meanwhile you can use your own API key.",
        "zh": "中转站拒绝了本站的 API 密钥（错误、已过期或额度用尽），需要本站管理者检查。你也可以先使用自己的 API 密钥。",
    },
    "auth": {
        "en": "The relay refused the API key: it is wrong, expired or used up. Check the key.",
        "zh": "中转站拒绝了这个 API 密钥：密钥错误、已过期或额度已用尽，请检查密钥。",
    },
    "quota": {
        "en": "The account balance is too low, or this key may not use this model. Top up or choose another model.",
        "zh": "账户余额不足，或该密钥无权使用此模型。请充值或换一个模型。",
    },
    "rate_limit": {
        "en": "Too many requests to the relay; wait {wait} and try again.",
        "zh": "请求过于频繁，请等待{wait}后再试。",
    },
    "unavailable": {
        "en": "This model is not available on this key right now; try again later or pick another model.",
        "zh": "该模型目前在此密钥的分组下不可用，请稍后再试或换一个模型。",
    },
    "bad_request": {
        "en": "The relay refused the request as invalid; try another model, or another way of asking the relay under Options.",
        "zh": "中转站认为请求无效，请换一个模型，或在“选项”中换一种请求方式。",
    },
    "not_found": {
        "en": "The relay has no such endpoint; check the relay address (SUXI_BASE_URL) or choose another way of asking the relay under Options.",
        "zh": "中转站没有这个接口，请检查中转站地址（SUXI_BASE_URL），或在“选项”中换一种请求方式。",
    },
    "format_refused": {
        "en": "This relay knows none of the ways the app asked for “{model}” ({formats}); nothing was created. Pick another model or another way of asking under Options.",
        "zh": "这个中转站不认识应用为“{model}”尝试的任何请求方式（{formats}），没有创建任务。请换一个模型，或在“选项”中换一种请求方式。",
    },
    "server": {
        "en": "The relay or its upstream failed. Your request may have been charged; check the relay's usage log before trying again.",
        "zh": "中转站或其上游出错。这次请求可能已扣费，请先查看中转站的使用记录再重试。",
    },
    "proxy_timeout": {
        "en": "A proxy in front of the relay gave up waiting. The video may still be made: use “Check again” later.",
        "zh": "中转站前面的代理等待超时。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "proxy_timeout_nostream": {
        "en": "A proxy in front of the relay gave up waiting, which is common without streaming: turn streaming on. The video may still be made: use “Check again” later.",
        "zh": "中转站前面的代理等待超时，关闭流式时很常见，请打开流式。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "relay_down": {
        "en": "The relay is unavailable right now; try again in a few minutes.",
        "zh": "中转站暂时不可用，请几分钟后再试。",
    },
    # — the conversation broke —
    "connect": {
        "en": "Could not reach the relay; check the internet connection and the relay address. Nothing was sent.",
        "zh": "无法连接到中转站，请检查网络和中转站地址。没有发送任何请求。",
    },
    "stall": {
        "en": "The relay went silent for too long and the connection was closed. The video may still be made: use “Check again” later.",
        "zh": "中转站长时间没有响应，连接已断开。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "deadline": {
        "en": "The video took longer than the time limit, so the app stopped waiting. It may still be made: use “Check again” later.",
        "zh": "生成超过了时间上限，应用已停止等待。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "dropped": {
        "en": "The connection to the relay broke before the video arrived. The video may still be made: use “Check again” later.",
        "zh": "视频返回之前与中转站的连接断开了。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "broken_stream": {
        "en": "The relay sent data the app cannot read before the video arrived. The video may still be made: use “Check again” later.",
        "zh": "视频返回之前，中转站发送了无法读取的数据。视频可能仍在生成，稍后可点“再次查询”。",
    },
    "bad_reply": {
        "en": "The relay sent something that is not a reply (a web page or broken data); try again later.",
        "zh": "中转站返回的不是有效回复（网页或损坏的数据），请稍后再试。",
    },
    # — the relay said it failed —
    "relay": {
        "en": "The relay reported that the video failed.",
        "zh": "中转站报告视频生成失败。",
    },
    "content_policy": {
        "en": "The model refused this request under its content policy; rephrase the description.",
        "zh": "模型依据内容政策拒绝了这个请求，请换一种描述方式。",
    },
    "overloaded": {
        "en": "The relay is under heavy load and refused the job without charging; try again in a few minutes.",
        "zh": "中转站负载过高，拒绝了任务（未扣费），请几分钟后再试。",
    },
    "no_video": {
        "en": "The relay finished without sending a video. Use “Check again” later, or try again.",
        "zh": "中转站结束了回复，但没有给出视频。稍后可点“再次查询”，或重新生成。",
    },
    "no_task_id": {
        "en": "The relay accepted the request but named no task, so the app cannot follow it. It may still charge: check the relay's usage log before trying again.",
        "zh": "中转站接受了请求，但没有给出任务 ID，应用无法跟进。可能仍会扣费，请先查看中转站的使用记录再重试。",
    },
    "task_unknown": {
        "en": "The relay no longer knows this task. If it was charged, ask the relay's support, quoting the task id under Details.",
        "zh": "中转站已查不到这个任务。如果已扣费，请联系中转站客服，并提供“详情”中的任务 ID。",
    },
    # — keeping the video —
    "download": {
        "en": "The video was made but could not be downloaded; use “Check again” to retry.",
        "zh": "视频已生成，但下载失败，可点“再次查询”重试。",
    },
    "link_expired": {
        "en": "The relay's video link has expired or refused the download; use “Check again” to ask the relay for a fresh link.",
        "zh": "中转站的视频链接已过期或拒绝下载，可点“再次查询”向中转站获取新链接。",
    },
    "unsafe_url": {
        "en": "The relay's video link points to an address the app will not fetch (not a public web address).",
        "zh": "中转站给出的视频链接不是公开网址，出于安全原因不予下载。",
    },
    "too_large": {
        "en": "The video is larger than the size limit (SUXI_MAX_VIDEO_MB) and was not kept.",
        "zh": "视频超过大小上限（SUXI_MAX_VIDEO_MB），未保存。",
    },
    "disk_full": {
        "en": "The server's disk is too full to keep the video. The link and task id are kept: free some space, then use “Check again”.",
        "zh": "服务器磁盘空间不足，无法保存视频。视频链接和任务 ID 已保留：腾出空间后点“再次查询”。",
    },
    # — endings —
    "interrupted": {
        "en": "The app restarted while this video was being made; use “Check again”.",
        "zh": "生成过程中应用重启了，可点“再次查询”。",
    },
    "cancelled": {
        "en": "Stopped. The relay may still charge for work it had already started.",
        "zh": "已停止。中转站可能仍会对已开始的任务扣费。",
    },
    "stopped_task": {
        "en": "Stopped following. The relay may still finish this video and charge for it; “Check again” collects it if it does.",
        "zh": "已停止跟进。中转站可能仍会完成并对这个视频扣费；如果完成了，可点“再次查询”取回。",
    },
    "store_failed": {
        "en": "The app could not save this job's progress, so it stopped following it. The video may still be made: use “Check again”.",
        "zh": "应用无法保存这个任务的进度，已停止跟进。视频可能仍在生成，可点“再次查询”。",
    },
    "unknown": {
        "en": "Something unexpected went wrong; please try again.",
        "zh": "发生了意外错误，请重试。",
    },
    # — check again —
    "recovered": {
        "en": "Found it: the relay had finished this video, and it is now saved here.",
        "zh": "找到了：中转站已完成这个视频，现已保存到这里。",
    },
    "still_running": {
        "en": "The relay is still working on this video ({percent}); the app follows it again and shows it here when it is done.",
        "zh": "中转站仍在生成这个视频（{percent}），应用已重新跟进，完成后会显示在这里。",
    },
    "relay_failed": {
        "en": "The relay says this video failed, so there is nothing to collect.",
        "zh": "中转站表示这个视频生成失败，没有可取回的内容。",
    },
    "no_recovery": {
        "en": "The relay has no record of this job the app can look up: asked {asked}; answer: {answer}. Make the video again, or ask the relay's support with the details below.",
        "zh": "在中转站上查不到这个任务：查询了 {asked}；结果：{answer}。请重新生成，或凭下面的详情联系中转站客服。",
    },
    "not_applicable": {
        "en": "This video is done or still being made; there is nothing to check.",
        "zh": "这个视频已完成或仍在生成，无需查询。",
    },
    # — other answers —
    "deleted": {
        "en": "Deleted, together with its video file.",
        "zh": "已删除，视频文件也已一并删除。",
    },
    "not_found_job": {
        "en": "There is no such video in your list (it may have been deleted).",
        "zh": "你的列表里没有这个视频（可能已被删除）。",
    },
    "nothing_picked": {
        "en": "Pick a video first.",
        "zh": "请先选择一个视频。",
    },
}
