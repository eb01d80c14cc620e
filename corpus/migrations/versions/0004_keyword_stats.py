"""BM25 on PostgreSQL: each generation's passage count and token total, kept by its writers."""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add newsbot_tsv_tokens() and keyword_stats, filled from the passages already stored."""
    # A passage's length for BM25: its indexed tokens (title and text), as the tsvector's positions count.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION newsbot_tsv_tokens(tsvector) RETURNS BIGINT
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS 'SELECT COALESCE(SUM(cardinality(weights)), 0) FROM unnest($1)'
        """
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS keyword_stats (
            generation TEXT PRIMARY KEY,
            passages BIGINT NOT NULL,
            tokens BIGINT NOT NULL
        )
        """
    )
    op.execute(
        """
        INSERT INTO keyword_stats (generation, passages, tokens)
        SELECT generation, COUNT(*), COALESCE(SUM(newsbot_tsv_tokens(tsv)), 0) FROM passages GROUP BY generation
        ON CONFLICT (generation) DO UPDATE SET passages = excluded.passages, tokens = excluded.tokens
        """
    )


def downgrade() -> None:
    """Drop them again."""
    op.execute("DROP TABLE IF EXISTS keyword_stats")
    op.execute("DROP FUNCTION IF EXISTS newsbot_tsv_tokens(tsvector)")
