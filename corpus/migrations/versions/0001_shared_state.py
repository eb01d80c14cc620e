"""The shared state: articles, near-duplicate index, feeds, passages with full-text search, pointer, digests."""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_UP = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    url TEXT,
    source TEXT,
    published_at TIMESTAMPTZ,
    language TEXT NOT NULL DEFAULT 'en',
    fetched_at TIMESTAMPTZ,
    hash TEXT NOT NULL
);
CREATE INDEX articles_hash ON articles (hash);
CREATE INDEX articles_effective ON articles ((COALESCE(published_at, fetched_at)));
CREATE INDEX articles_source_url ON articles (source, url);
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE near_dup_docs (
    article_id TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL, shingles BYTEA NOT NULL
);
CREATE TABLE near_dup_tokens (token BIGINT NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX near_dup_tokens_token ON near_dup_tokens (token);
CREATE INDEX near_dup_tokens_article ON near_dup_tokens (article_id);

CREATE TABLE feeds (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    language TEXT,
    fetch_full_text BOOLEAN NOT NULL DEFAULT FALSE,
    title TEXT,
    added_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE feed_state (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    last_polled TIMESTAMPTZ,
    last_ok TIMESTAMPTZ,
    last_error TEXT,
    last_error_at TIMESTAMPTZ,
    error_count INTEGER NOT NULL DEFAULT 0,
    articles_seen INTEGER NOT NULL DEFAULT 0,
    articles_new INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE page_retries (
    feed TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    source TEXT,
    published_at TIMESTAMPTZ,
    language TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    wait INTEGER NOT NULL,
    gave_up BOOLEAN NOT NULL DEFAULT FALSE,
    last_error TEXT NOT NULL,
    first_failed TIMESTAMPTZ NOT NULL,
    last_failed TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (feed, url)
);

-- The passages of every index generation; the tsvector follows the passage's own text search config.
CREATE TABLE passages (
    id BIGSERIAL PRIMARY KEY,
    generation TEXT NOT NULL,
    article_id TEXT NOT NULL,
    ord INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    url TEXT,
    source TEXT,
    published_at TIMESTAMPTZ,
    effective_at TIMESTAMPTZ,
    language TEXT,
    kw_config REGCONFIG NOT NULL DEFAULT 'simple',
    kw_title TEXT,
    kw_text TEXT,
    tsv TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector(kw_config, COALESCE(kw_title, title)), 'A')
        || setweight(to_tsvector(kw_config, COALESCE(kw_text, text)), 'B')
    ) STORED
);
CREATE INDEX passages_article ON passages (generation, article_id);
CREATE INDEX passages_effective ON passages (generation, effective_at);
CREATE INDEX passages_tsv ON passages USING GIN (tsv);
CREATE TABLE indexed (
    generation TEXT NOT NULL, article_id TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (generation, article_id)
);
-- The serving generation: one row, its version bumped at every publish so replicas notice.
CREATE TABLE index_pointer (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE subscribers (
    chat_id BIGINT PRIMARY KEY,
    send_time TEXT NOT NULL,
    timezone TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE deliveries (
    chat_id BIGINT NOT NULL,
    digest_date DATE NOT NULL,
    status TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (chat_id, digest_date)
);
"""

_DOWN = """
DROP TABLE IF EXISTS deliveries, subscribers, index_pointer, indexed, passages, page_retries, feed_state,
    feeds, near_dup_tokens, near_dup_docs, state, articles;
"""


def upgrade() -> None:
    """Create every table of the shared state."""
    op.execute(_UP)


def downgrade() -> None:
    """Drop them all."""
    op.execute(_DOWN)
