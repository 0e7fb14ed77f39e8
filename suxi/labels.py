"""The page's fixed words in English and Chinese, for ``gr.I18n`` (the browser's language picks).

Keys carry a ``ui_`` prefix: Gradio's own translation table has top-level keys such as "video"
and "status" that are objects, and an unprefixed key would render as "[object Object]".
"""

EN = {
    "ui_title": "Sentence → video",
    "ui_subtitle": "Describe a scene in a sentence; the relay's video model turns it into a "
    "short clip.",
    "ui_prompt": "Describe your video",
    "ui_prompt_ph": "A red kite flying over a green hill on a windy day…",
    "ui_image": "Starting image (optional)",
    "ui_image_url": "…or an https image URL",
    "ui_image_note": "The first frame of the video. Large photos are resized and compressed "
    "automatically. Photos of real people are usually refused by the model's content policy.",
    "ui_max_tokens": "max_tokens",
    "ui_stream": "Stream progress (recommended)",
    "ui_stream_info": "Without streaming the page can only wait, and proxies in front of relays "
    "often cut calls longer than about 100 s (error 504 / 524).",
    "ui_model": "Model",
    "ui_refresh_models": "Refresh the model list",
    "ui_orientation": "Orientation",
    "ui_auto": "Automatic",
    "ui_landscape": "Landscape 16:9",
    "ui_portrait": "Portrait 9:16",
    "ui_duration": "Duration",
    "ui_10s": "10 seconds",
    "ui_15s": "15 seconds",
    "ui_generate": "Generate",
    "ui_stop": "Stop",
    "ui_stop_info": "Stop ends the job here; the relay may still charge for work it already "
    "started.",
    "ui_status": "Status",
    "ui_video": "Video",
    "ui_examples": "Examples (they only fill the box)",
    "ui_options": "Options",
    "ui_key": "Your API key",
    "ui_key_box": "Relay API key",
    "ui_key_note": "Used only for your own requests, kept in this page's memory and sent only to "
    "the relay. It is not saved unless you tick “Remember”.",
    "ui_remember": "Remember on this browser",
    "ui_forget": "Forget the key",
    "ui_modify": "Change this video",
    "ui_modify_ph": "What should be different? e.g. “make it night time”",
    "ui_modify_btn": "Generate the changed video",
    "ui_tab_create": "Create",
    "ui_tab_history": "My videos",
    "ui_refresh": "Refresh",
    "ui_check_again": "Check again",
    "ui_delete": "Delete",
    "ui_demo": "**Offline demo** — no API key is set, so videos come from a built-in "
    "simulated relay (always the same sample clip). To make real videos, put "
    "`SUXI_API_KEY=sk-…` in a `.env` file (or a Space secret) and restart, or paste your own "
    "key under “Your API key”.",
}

ZH = {
    "ui_title": "一句话生成视频",
    "ui_subtitle": "用一句话描述一个场景，中转站的视频模型会把它变成一段短视频。",
    "ui_prompt": "描述你的视频",
    "ui_prompt_ph": "大风天里，一只红色风筝飞过绿色的山坡……",
    "ui_image": "起始图片（可选）",
    "ui_image_url": "……或一个 https 图片链接",
    "ui_image_note": "作为视频的第一帧。大照片会自动缩小和压缩。真人照片通常会被模型的内容政策拒绝。",
    "ui_max_tokens": "max_tokens",
    "ui_stream": "流式显示进度（推荐）",
    "ui_stream_info": "关闭流式时页面只能等待，而中转站前的代理常会在约 100 秒后切断请求（错误 504 / 524）。",
    "ui_model": "模型",
    "ui_refresh_models": "刷新模型列表",
    "ui_orientation": "方向",
    "ui_auto": "自动",
    "ui_landscape": "横屏 16:9",
    "ui_portrait": "竖屏 9:16",
    "ui_duration": "时长",
    "ui_10s": "10 秒",
    "ui_15s": "15 秒",
    "ui_generate": "生成",
    "ui_stop": "停止",
    "ui_stop_info": "停止只会结束本页的任务，中转站可能仍会对已开始的工作扣费。",
    "ui_status": "状态",
    "ui_video": "视频",
    "ui_examples": "示例（只会填入输入框）",
    "ui_options": "选项",
    "ui_key": "你的 API 密钥",
    "ui_key_box": "中转站 API 密钥",
    "ui_key_note": "只用于你自己的请求，只保存在本页面的内存中，只发送给中转站。除非勾选“记住”，否则不会保存。",
    "ui_remember": "在此浏览器上记住",
    "ui_forget": "忘记密钥",
    "ui_modify": "修改这个视频",
    "ui_modify_ph": "想要哪里不同？例如“改成夜晚”",
    "ui_modify_btn": "生成修改后的视频",
    "ui_tab_create": "创作",
    "ui_tab_history": "我的视频",
    "ui_refresh": "刷新",
    "ui_check_again": "再次查询",
    "ui_delete": "删除",
    "ui_demo": "**离线演示** —— 未设置 API 密钥，视频来自内置的模拟中转站（总是同一段示例视频）。"
    "要生成真实视频，请在 `.env` 文件（或 Space 的 secret）中设置 `SUXI_API_KEY=sk-…` 并重启，"
    "或在“你的 API 密钥”中粘贴你自己的密钥。",
}
