"""HomeGuru Telegram bot: the smallest reference bot, with the heartbeat probe checks."""
