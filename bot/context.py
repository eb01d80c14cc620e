"""What the handlers share: the one Settings, the core service, the subscription store and small state."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from telegram import User
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot, JobQueue

from bot.i18n import Catalogs, Translate, UserLanguages, reader_language
from bot.inline import InlineState
from bot.metrics import BotMetrics
from bot.ratelimit import QuestionLimiter
from bot.subscriptions import Subscriptions, open_subscriptions
from corpus.errors import ConfigError
from corpus.feeds import PollReport
from corpus.ingest import IngestReport
from corpus.models import Article, Progress
from corpus.settings import Settings
from index.digest import Digest
from index.llm_writer import AnswerProgress
from index.models import Answer, IndexStats
from index.query import Query, followup_context

FOLLOWUP_STARTS = ("and ", "what about", "how about", "and what", "also ", "what of", "same for")
PRONOUNS = frozenset(
    {
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "his",
        "her",
        "there",
    }
)


class NewsCore(Protocol):
    """The parts of index.service.NewsService the bot calls."""

    def ask(self, query: Query, on_progress: AnswerProgress | None = None) -> Answer: ...
    def reindex(self, progress: Progress | None = None) -> IngestReport: ...
    def poll_feeds(self, progress: Progress | None = None) -> PollReport: ...
    def stats(self) -> IndexStats: ...
    def latest(self, n: int) -> list[Article]: ...
    def record_question(self) -> None: ...
    def digest(self, as_of: datetime | None = None) -> Digest: ...
    def close(self) -> None: ...


def require_token(settings: Settings) -> str:
    """The bot token, or the one clear error saying where it must come from."""
    token = settings.telegram.token.get_secret_value().strip() if settings.telegram.token else ""
    if not token:
        raise ConfigError("missing bot token: set NEWSBOT_TELEGRAM__TOKEN")
    return token


def api_urls(settings: Settings) -> tuple[str, str] | None:
    """(base_url, base_file_url) of a self-hosted Bot API server; None for api.telegram.org."""
    base = settings.telegram.base_url
    if not base:
        return None
    base = base.rstrip("/")
    file_base = base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"
    return base, file_base


def looks_like_followup(question: str) -> bool:
    """Short, 'and…'/'what about…'-led or pronoun-led questions lean on the previous one."""
    text = question.strip().lower()
    words = text.rstrip("?!. ").split()
    return len(words) <= 4 or text.startswith(FOLLOWUP_STARTS) or (bool(words) and words[0] in PRONOUNS)


@dataclass(frozen=True)
class _Topic:
    """A chat's topic question, the last answer given on it, and when."""

    question: str
    answer: Answer | None
    at: float


class ChatMemory:
    """Each chat's topic (its last fresh question) and last answer, for follow-ups."""

    def __init__(self, minutes: float, max_chats: int = 10_000) -> None:
        self.seconds = minutes * 60
        self._max = max_chats
        self._topics: OrderedDict[int, _Topic] = OrderedDict()

    def context_for(self, chat_id: int, question: str, now: float) -> str | None:
        """The earlier question and answer to read this one with, when it is a follow-up within the window."""
        last = self._topics.get(chat_id)
        if last is None or now - last.at > self.seconds or not looks_like_followup(question):
            return None
        return followup_context(last.question, last.answer)

    def remember(self, chat_id: int, question: str, followup: bool, answer: Answer, now: float) -> None:
        """A follow-up keeps the earlier topic alive (with its newest answer); a fresh question starts one."""
        last = self._topics.get(chat_id)
        topic = last.question if followup and last is not None else question
        kept = answer if answer.answered or last is None or not followup else last.answer
        self._topics[chat_id] = _Topic(topic, kept, now)
        self._topics.move_to_end(chat_id)
        if len(self._topics) > self._max:
            self._topics.popitem(last=False)


@dataclass
class ReindexState:
    """Whether a rebuild started from the bot is running (one at a time)."""

    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class BotContext:
    """Everything a handler needs, built once at start-up and kept in application.bot_data."""

    settings: Settings
    service: NewsCore
    subscriptions: Subscriptions
    limiter: QuestionLimiter
    memory: ChatMemory
    catalogs: Catalogs
    user_languages: UserLanguages
    reindex: ReindexState = field(default_factory=ReindexState)
    inline: InlineState = field(default_factory=InlineState)
    metrics: BotMetrics = field(default_factory=BotMetrics)

    @classmethod
    def create(cls, settings: Settings, service: NewsCore) -> BotContext:
        """Open the subscription store under data_dir and set up the limits."""
        return cls(
            settings=settings,
            service=service,
            subscriptions=open_subscriptions(settings),
            limiter=QuestionLimiter(settings.telegram.questions_per_minute),
            memory=ChatMemory(settings.telegram.context_minutes),
            catalogs=Catalogs(),
            user_languages=UserLanguages(settings.data_dir / "bot.db"),
        )

    def language_of(self, user: User | None) -> str:
        """The language to speak to a user: chosen with /language, else their Telegram client's."""
        if user is None:
            return reader_language(None, None)
        return reader_language(self.user_languages.get(user.id), user.language_code)

    def gettext(self, user: User | None) -> Translate:
        """The translate function for a user's language."""
        return self.catalogs.gettext(self.language_of(user))

    def is_admin(self, user_id: int | None) -> bool:
        """Whether a user may run admin commands."""
        return user_id is not None and user_id in self.settings.telegram.admin_ids


class BotData:
    """application.bot_data: python-telegram-bot makes it with no arguments, build_application sets `core`."""

    def __init__(self) -> None:
        self._core: BotContext | None = None

    @property
    def core(self) -> BotContext:
        """The BotContext every handler and job uses."""
        if self._core is None:
            raise RuntimeError("bot_data.core is read before build_application set it")
        return self._core

    @core.setter
    def core(self, value: BotContext) -> None:
        self._core = value


CONTEXT_TYPES = ContextTypes(bot_data=BotData)
# What handlers, jobs and the error handler receive: `context.bot_data.core` is the BotContext.
NewsbotContext = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
NewsbotApp = Application[ExtBot[None], NewsbotContext, dict[Any, Any], dict[Any, Any], BotData, JobQueue[Any]]
