"""The studio's extra words: balance, prompt help, style presets, storyboard, characters, price
and the assistant tools; Gradio labels are prefixed ``ui_`` (for ``gr.I18n``)."""

STUDIO_TEXTS: dict[str, dict[str, str]] = {
    # — labels for the page —
    "ui_balance": {"en": "Balance", "zh": "余额"},
    "ui_balance_check": {"en": "Check the balance", "zh": "查询余额"},
    "ui_help_note": {
        "en": "Asks a chat model on the relay to add camera, light, motion and sound detail without changing your idea. It is a small paid request; you can edit the result before generating.",
        "zh": "请中转站上的对话模型为描述补充镜头、光线、动作和声音细节，不改变你的想法。这是一次小额付费请求；生成前你可以修改结果。",
    },
    "ui_sb_shots": {"en": "Shots", "zh": "镜头"},
    "ui_sb_seconds": {"en": "Seconds", "zh": "秒数"},
    "ui_sb_scene": {"en": "Scene", "zh": "场景"},
    "ui_sb_use": {
        "en": "Put the storyboard into the description",
        "zh": "把故事板填入描述",
    },
    "ui_sb_read": {"en": "Read the shots from the description", "zh": "从描述中读取镜头"},
    "ui_sb_note": {
        "en": "One row per shot: its length in seconds and what happens. The shots together must fit the model's longest video.",
        "zh": "每行一个镜头：时长（秒）和画面内容。所有镜头加起来不能超过模型的最长视频时长。",
    },
    "ui_characters": {"en": "Characters", "zh": "角色"},
    "ui_char_from_video": {"en": "From one of my finished videos", "zh": "来自我已完成的视频"},
    "ui_char_url": {
        "en": "…or a public https:// clip link",
        "zh": "……或一个公开的 https:// 视频片段链接",
    },
    "ui_char_span": {
        "en": "Seconds the character appears (1 to 3 s, e.g. 1,3)",
        "zh": "角色出现的时间段（1 到 3 秒，例如 1,3）",
    },
    "ui_char_make": {"en": "Make the character", "zh": "创建角色"},
    "ui_char_insert": {"en": "Mention in the description", "zh": "在描述中提及"},
    "ui_char_delete": {"en": "Forget this character", "zh": "删除这个角色"},
    "ui_char_note": {
        "en": "A character made from a clip can appear in later videos: mention its @handle in the description. Only Sora models take characters.",
        "zh": "从片段创建的角色可以出现在之后的视频中：在描述中提及它的 @名称 即可。只有 Sora 模型支持角色。",
    },
    # — balance —
    "bal_unit_quota": {"en": "quota", "zh": "额度"},
    "bal_amount": {"en": "Balance: {amount}.", "zh": "余额：{amount}。"},
    "bal_unlimited": {"en": "Balance: unlimited.", "zh": "余额：不限。"},
    "bal_low": {
        "en": "The balance is low ({amount}, below {limit}): videos may be refused until it is topped up.",
        "zh": "余额不足（{amount}，低于 {limit}）：充值前视频请求可能会被拒绝。",
    },
    "bal_cost_one": {
        "en": "The job that ended since the last reading cost {cost}.",
        "zh": "自上次查询以来结束的 1 个任务花费了 {cost}。",
    },
    "bal_cost_many": {
        "en": "The {n} jobs that ended since the last reading cost {cost} together.",
        "zh": "自上次查询以来结束的 {n} 个任务共花费 {cost}。",
    },
    "bal_cost_elsewhere": {
        "en": "Since the last reading {cost} was spent on this key outside these jobs.",
        "zh": "自上次查询以来，这个密钥在这些任务之外花费了 {cost}。",
    },
    "bal_not_offered": {
        "en": "This relay does not tell the balance (it has no billing routes); check it on the relay's own website.",
        "zh": "这个中转站不提供余额查询（没有计费接口），请在中转站自己的网站上查看。",
    },
    "bal_unreadable": {
        "en": "The relay answered the balance question with something the app cannot read; check it on the relay's own website.",
        "zh": "中转站对余额查询的回复无法识别，请在中转站自己的网站上查看。",
    },
    "bal_failed": {
        "en": "The balance could not be read. {reason}",
        "zh": "无法读取余额。{reason}",
    },
    # — prompt help —
    "help_no_model": {
        "en": "Prompt help needs a chat model on the relay, and this key lists none; the site's operator can name one with SUXI_PROMPT_MODEL.",
        "zh": "提示词优化需要中转站上的对话模型，但这个密钥没有可用的对话模型；站点管理员可以用 SUXI_PROMPT_MODEL 指定一个。",
    },
    # — style presets —
    "preset_none": {"en": "No style", "zh": "无风格"},
    "preset_sentence": {"en": "Style: {phrase}.", "zh": "风格：{phrase}。"},
    # — storyboard —
    "sb_empty": {
        "en": "The storyboard has no shots yet: add at least one row with a length and a scene.",
        "zh": "故事板还没有镜头：请至少添加一行，填写时长和场景。",
    },
    "sb_too_many": {
        "en": "{n} shots are too many: a storyboard may have at most {max}.",
        "zh": "{n} 个镜头太多了：故事板最多 {max} 个镜头。",
    },
    "sb_no_scene": {
        "en": "Shot {n} has no scene: say what happens in it.",
        "zh": "镜头 {n} 没有场景：请写出画面内容。",
    },
    "sb_no_length": {
        "en": "Shot {n} needs a length of more than 0 seconds.",
        "zh": "镜头 {n} 需要大于 0 秒的时长。",
    },
    "sb_shot_too_long": {
        "en": "Shot {n} is {seconds} seconds long; a shot may be at most {max} seconds.",
        "zh": "镜头 {n} 长 {seconds} 秒；单个镜头最多 {max} 秒。",
    },
    "sb_total_too_long": {
        "en": "The shots add up to {total} seconds, but {model} makes at most {max} seconds: shorten or remove shots.",
        "zh": "所有镜头共 {total} 秒，但 {model} 最多生成 {max} 秒：请缩短或删除一些镜头。",
    },
    "sb_summary": {
        "en": "{n} shots, {total} seconds in all (this model makes up to {limit} seconds).",
        "zh": "共 {n} 个镜头，总计 {total} 秒（这个模型最长 {limit} 秒）。",
    },
    "char_made": {
        "en": "The character is ready: mention {mention} in a description to use it.",
        "zh": "角色已创建：在描述中提及 {mention} 即可使用。",
    },
    "char_deleted": {
        "en": "The character was removed from this list (the relay may still know it).",
        "zh": "角色已从列表中移除（中转站可能仍保留它）。",
    },
    "char_none": {"en": "No characters yet.", "zh": "还没有角色。"},
    "char_no_family": {
        "en": "{model} does not take characters; choose a Sora model (sora-2, sora-2-pro).",
        "zh": "{model} 不支持角色，请选择 Sora 模型（sora-2、sora-2-pro）。",
    },
    "char_bad_span": {
        "en": "“{value}” is not a span the relay takes: give a start and an end second, 1 to 3 seconds apart, e.g. 1,3.",
        "zh": "“{value}”不是中转站接受的时间段：请填写开始和结束秒数，相差 1 到 3 秒，例如 1,3。",
    },
    "char_bad_link": {
        "en": "The clip address must be a public https:// link without spaces or a password, at most 2048 characters.",
        "zh": "片段地址必须是公开的 https:// 链接，不含空格或密码，且不超过 2048 个字符。",
    },
    "char_no_task": {
        "en": "A character can be made only from a finished video the relay gave a task id for.",
        "zh": "只能从中转站给出任务 ID 的已完成视频创建角色。",
    },
    "char_not_offered": {
        "en": "This relay does not make characters (it has no character route); nothing was made.",
        "zh": "这个中转站不支持创建角色（没有角色接口），没有创建任何角色。",
    },
    # — price —
    "price_per_video": {"en": "{price} per video", "zh": "每个视频 {price}"},
    # — tools for assistants (MCP) —
    "mcp_token_needed": {
        "en": "On this shared site, pass the visitor_token a generate answer gave to see those videos.",
        "zh": "在这个共享站点上，请传入 generate 返回的 visitor_token 才能看到这些视频。",
    },
    "mcp_bad_token": {
        "en": "visitor_token must be 16 to 128 letters, digits, - or _ (leave it empty to get a new one).",
        "zh": "visitor_token 必须是 16 到 128 个字母、数字、- 或 _（留空可获得一个新的）。",
    },
}
