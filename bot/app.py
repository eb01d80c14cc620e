"""Build the python-telegram-bot Application, register handlers, and run it (polling or webhook)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from typing import Any
from urllib.parse import urlparse

from telegram import Bot, BotCommand, BotCommandScopeChat, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    ApplicationBuilder,
    ChatMemberHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import admin, handlers, inline, languages, subscribe
from bot.context import (
    CONTEXT_TYPES,
    BotContext,
    NewsbotApp,
    NewsbotContext,
    NewsCore,
    api_urls,
    require_token,
)
from bot.i18n import LANGUAGES, N_
from bot.languages import localized_commands, set_localized_commands
from bot.leader import PollingLeader, stop_on_signals
from bot.ratelimit import bot_id
from corpus.errors import ConfigError, UnreachableError
from corpus.feeds import configured_feeds
from corpus.settings import Settings
from corpus.storage import Storage

log = logging.getLogger(__name__)

# Descriptions are translated by value for each language's menu (bot/languages.py).
PUBLIC_COMMANDS = (
    ("ask", N_("Ask a question about the news")),
    ("latest", N_("Newest headlines: /latest [N]")),
    ("sources", N_("Agencies and dates I know")),
    ("subscribe", N_("Daily digest: /subscribe [HH:MM] [Area/City] [language]")),
    ("unsubscribe", N_("Stop the daily digest")),
    ("digest", N_("Today's digest now")),
    ("help", N_("What I can do")),
    ("language", N_("Choose my language: /language en|tr|ar")),
)
ADMIN_COMMANDS = (("reindex", N_("Rebuild the index")), ("stats", N_("Index and bot statistics")))
ALLOWED_UPDATES = [Update.MESSAGE, Update.MY_CHAT_MEMBER, Update.INLINE_QUERY]
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class RedactToken(logging.Filter):
    """Replaces the bot token in log lines (httpx logs request URLs, which contain it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "[TOKEN]"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "[TOKEN]")
        return True


class NetworkErrorsOneLine(logging.Filter):
    """python-telegram-bot logs a failed Bot API call with a full traceback; a network error is one warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
            record.msg, record.args = f"{record.getMessage()} ({type(error).__name__}: {error})", None
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def configure_logging(settings: Settings, token: str) -> None:
    """Log at the configured level, keep httpx quiet, and redact the token on every root handler."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("telegram.ext", "telegram.ext.Updater"):
        ptb = logging.getLogger(name)
        if not any(isinstance(f, NetworkErrorsOneLine) for f in ptb.filters):
            ptb.addFilter(NetworkErrorsOneLine())
    for handler in root.handlers:
        if not any(isinstance(f, RedactToken) and f.token == token for f in handler.filters):
            handler.addFilter(RedactToken(token))


def _commands(pairs: tuple[tuple[str, str], ...]) -> list[BotCommand]:
    return [BotCommand(name, description) for name, description in pairs]


async def post_init(application: NewsbotApp) -> None:
    """Register the command menus (admin commands only for admins) and the digest jobs."""
    bc = application.bot_data.core
    await application.bot.set_my_commands(_commands(PUBLIC_COMMANDS))
    await set_localized_commands(application.bot, bc.catalogs, PUBLIC_COMMANDS)
    for admin_id in bc.settings.telegram.admin_ids:
        try:
            await application.bot.set_my_commands(
                _commands(PUBLIC_COMMANDS + ADMIN_COMMANDS), scope=BotCommandScopeChat(admin_id)
            )
            for code in LANGUAGES[1:]:
                await application.bot.set_my_commands(
                    localized_commands(bc.catalogs, code, PUBLIC_COMMANDS + ADMIN_COMMANDS),
                    scope=BotCommandScopeChat(admin_id),
                    language_code=code,
                )
        except TelegramError as exc:  # an admin who never opened a chat with the bot has no chat yet
            log.warning("could not set admin commands for %s: %s", admin_id, exc)
    await subscribe.schedule_all(application)
    bc.metrics.watch_state(bc.service.stats, bc.settings)
    if bc.settings.metrics.enabled:
        bc.metrics.serve(bc.settings.metrics.host, bc.settings.metrics.port)
    if configured_feeds(bc.settings) and application.job_queue is not None:
        application.job_queue.run_repeating(
            poll_feeds_job,
            interval=bc.settings.corpus.poll_minutes * 60,
            first=1,
            name="poll feeds",
            # A slow poll must not overlap the next one.
            job_kwargs={"max_instances": 1, "coalesce": True},
        )


async def poll_feeds_job(context: NewsbotContext) -> None:
    """Poll every feed once in a worker thread; new articles are searchable when it returns."""
    bc = context.bot_data.core
    report = await asyncio.to_thread(bc.service.poll_feeds)
    for failure in report.failed:
        log.warning("feed failed: %s", failure)


async def post_shutdown(application: NewsbotApp) -> None:
    """Stop /metrics and close the subscription store."""
    application.bot_data.core.metrics.stop()
    application.bot_data.core.subscriptions.close()
    application.bot_data.core.user_languages.close()


def register_handlers(application: NewsbotApp) -> None:
    """Commands, questions (private text; group mentions and replies), block updates, one error handler."""
    add = application.add_handler
    add(CommandHandler(["start", "help"], handlers.start))
    add(CommandHandler("ask", handlers.ask))
    add(CommandHandler("latest", handlers.latest))
    add(CommandHandler("sources", handlers.sources))
    add(CommandHandler("reindex", admin.reindex))
    add(CommandHandler("stats", admin.stats))
    add(CommandHandler("subscribe", subscribe.subscribe))
    add(CommandHandler("unsubscribe", subscribe.unsubscribe))
    add(CommandHandler("digest", subscribe.digest_now))
    add(CommandHandler("language", languages.language))
    text = filters.TEXT & ~filters.COMMAND
    add(MessageHandler(text & filters.ChatType.PRIVATE, handlers.on_private_text))
    add(
        MessageHandler(
            text & filters.ChatType.GROUPS & (filters.Entity("mention") | filters.REPLY),
            handlers.on_group_text,
        )
    )
    add(ChatMemberHandler(subscribe.on_member_change, ChatMemberHandler.MY_CHAT_MEMBER))
    if application.bot_data.core.settings.telegram.inline.enabled:
        add(InlineQueryHandler(inline.on_inline_query))
    application.add_error_handler(handlers.on_error)


def build_application(settings: Settings, service: NewsCore) -> NewsbotApp:
    """The Application with its BotContext in bot_data; nothing runs until it is started."""
    builder = (
        ApplicationBuilder()
        .context_types(CONTEXT_TYPES)
        .token(require_token(settings))
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW))
        .concurrent_updates(True)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    urls = api_urls(settings)
    if urls:
        builder = builder.base_url(urls[0]).base_file_url(urls[1])
    application = builder.build()
    application.bot_data.core = BotContext.create(settings, service)
    register_handlers(application)
    return application


async def _watch_stop(context: NewsbotContext) -> None:
    """Stop the application once the embedding caller sets its stop event."""
    event = context.job.data if context.job else None
    if isinstance(event, threading.Event) and event.is_set():
        context.application.stop_running()


async def _watch_leader(context: NewsbotContext) -> None:
    """Stop polling once the leader's PostgreSQL session is gone: a standby may hold the lock by now."""
    leader = context.job.data if context.job else None
    if isinstance(leader, PollingLeader) and not await asyncio.to_thread(leader.still_leading):
        log.error("lost the polling leadership (its PostgreSQL session dropped); stopping so a standby polls")
        context.application.stop_running()


def polling_leader(settings: Settings) -> PollingLeader | None:
    """The leader election polling needs when replicas share PostgreSQL; None for webhooks or SQLite."""
    storage = Storage.from_settings(settings)
    if settings.telegram.mode != "polling" or not storage.postgres:
        return None
    return PollingLeader(storage.url, storage.password, bot_id(settings))


def _run(application: NewsbotApp, settings: Settings, token: str) -> None:
    """Poll or serve the webhook until stopped; signal handlers only in the main thread."""
    main = threading.current_thread() is threading.main_thread()
    extra: dict[str, Any] = {} if main else {"stop_signals": None}
    tg = settings.telegram
    if tg.mode == "webhook":
        if not tg.webhook_url:
            raise ConfigError("webhook mode needs telegram.webhook_url (NEWSBOT_TELEGRAM__WEBHOOK_URL)")
        application.run_webhook(
            listen=tg.webhook_listen,
            port=tg.webhook_port,
            url_path=urlparse(tg.webhook_url).path.lstrip("/"),
            webhook_url=tg.webhook_url,
            allowed_updates=ALLOWED_UPDATES,
            # Derived from the token, so Telegram can prove to us that an update really comes from it.
            secret_token=hashlib.sha256(token.encode()).hexdigest()[:32],
            **extra,
        )
    else:
        application.run_polling(
            poll_interval=tg.poll_interval_seconds, allowed_updates=ALLOWED_UPDATES, **extra
        )


def _open_service(settings: Settings) -> NewsCore:
    """The real core; imported here because loading it (torch, the model) is slow."""
    from index.service import NewsService

    return NewsService.open(settings)


def _start_failure(
    settings: Settings, token: str, exc: TelegramError
) -> ConfigError | UnreachableError | None:
    """The one clear error for a Bot API that cannot be reached or refuses the token; None for anything else."""
    where = settings.telegram.base_url or "https://api.telegram.org"
    reason = f"{type(exc).__name__}: {exc}".replace(token, "[TOKEN]")
    if isinstance(exc, InvalidToken):
        return ConfigError(
            f"the Telegram Bot API at {where} refused the token (NEWSBOT_TELEGRAM__TOKEN): {reason}"
        )
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
        return UnreachableError(f"cannot reach the Telegram Bot API at {where}: {reason}")
    return None


async def _check_api(settings: Settings, token: str) -> None:
    urls = api_urls(settings)
    bot = Bot(token) if urls is None else Bot(token, base_url=urls[0], base_file_url=urls[1])
    async with bot:  # initialize() asks getMe
        pass


def ensure_api_reachable(settings: Settings, token: str) -> None:
    """Ask the Bot API who we are, so a dead API or a bad token fails in one line before the model loads."""
    try:
        asyncio.run(_check_api(settings, token))
    except TelegramError as exc:
        failure = _start_failure(settings, token, exc)
        if failure is None:
            raise
        raise failure from exc


def run_bot(
    settings: Settings, *, service: NewsCore | None = None, stop: threading.Event | None = None
) -> None:
    """Run the bot until stopped (blocking); opens and closes the core service unless one is given."""
    token = require_token(settings)
    configure_logging(settings, token)
    if service is None:
        ensure_api_reachable(settings, token)
    core = service if service is not None else _open_service(settings)
    leader: PollingLeader | None = None
    try:
        leader = polling_leader(settings)
        if leader is not None:
            # A hot standby: the model is loaded, so taking over costs one retry interval.
            waiting = stop if stop is not None else threading.Event()
            with stop_on_signals(waiting):
                if not leader.wait_to_lead(settings.telegram.leader_retry_seconds, waiting):
                    return
        application = build_application(settings, core)
        if stop is not None and application.job_queue is not None:
            application.job_queue.run_repeating(_watch_stop, interval=0.2, data=stop, name="stop watcher")
        if leader is not None and application.job_queue is not None:
            interval = settings.telegram.leader_retry_seconds
            application.job_queue.run_repeating(_watch_leader, interval=interval, data=leader, name="leader")
        try:
            _run(application, settings, token)
        except TelegramError as exc:
            failure = _start_failure(settings, token, exc)
            if failure is None:
                raise
            raise failure from exc
    finally:
        if leader is not None:
            leader.close()
        if service is None:
            core.close()
