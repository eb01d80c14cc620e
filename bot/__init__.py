"""newsbot adapters: the Telegram bot and the command line."""
