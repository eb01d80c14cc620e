"""The one factory of the state stores: SQLite files under data_dir, or PostgreSQL when [storage] url says so."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from corpus.repos import ArticleRepository, FeedStateRepository
from corpus.settings import Settings

ARTICLES_FILE = "articles.db"


@dataclass(frozen=True)
class Storage:
    """Where the shared state lives; every store of every layer is opened through one of these."""

    data_dir: Path
    # The libpq connection string (a postgresql:// URL) or "" for SQLite.
    url: str = ""
    password: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Storage:
        """The storage the settings name."""
        st = settings.storage
        url = "" if st.url in ("", "sqlite") else st.url
        password = st.password.get_secret_value() if st.password is not None else None
        return cls(data_dir=settings.data_dir, url=url, password=password)

    @property
    def postgres(self) -> bool:
        """Whether the state lives in PostgreSQL."""
        return bool(self.url)

    def describe(self) -> str:
        """Where the state lives, without any secret (for logs and `newsbot stats`)."""
        if not self.postgres:
            return f"sqlite:{self.data_dir}"
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(self.url)
        host = parts.get("host") or "localhost"
        return f"postgresql://{parts.get('user') or ''}@{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"

    def articles(self) -> ArticleRepository:
        """The article store (with its key/value state and near-duplicate index)."""
        if self.postgres:
            from corpus.pgstore import PgArticleStore

            return PgArticleStore(self.url, self.password)
        from corpus.store import ArticleStore

        return ArticleStore(self.data_dir / ARTICLES_FILE)

    def feed_state(self) -> FeedStateRepository:
        """Imported feeds and their poll state."""
        if self.postgres:
            from corpus.pgfeedstate import PgFeedStateStore

            return PgFeedStateStore(self.url, self.password)
        from corpus.feedstate import FeedStateStore

        return FeedStateStore(self.data_dir / ARTICLES_FILE)

    def has_feed_state(self) -> bool:
        """Whether feed state may exist yet (an SQLite file is not created just to find it empty)."""
        return self.postgres or (self.data_dir / ARTICLES_FILE).exists()

    def migrate(self) -> tuple[str | None, str]:
        """Bring a PostgreSQL schema up to date: (revision before, after); SQLite creates its schema on open."""
        if not self.postgres:
            return None, "sqlite"
        from corpus.migrate import migrate

        return migrate(self.url, self.password)
