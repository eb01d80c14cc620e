"""BM25 on PostgreSQL: each generation's passage count and total passage length, kept by its writers."""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add keyword_stats, filled from the passages already stored."""
    # A passage's length for BM25 is its tsvector's length (distinct lexemes of title and text): it is read
    # in C from the value each match loads anyway, where counting positions would unnest every lexeme.
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS keyword_stats (
            generation TEXT PRIMARY KEY,
            passages BIGINT NOT NULL,
            lexemes BIGINT NOT NULL
        )
        """
    )
    op.execute(
        """
        INSERT INTO keyword_stats (generation, passages, lexemes)
        SELECT generation, COUNT(*), COALESCE(SUM(length(tsv)), 0) FROM passages GROUP BY generation
        ON CONFLICT (generation) DO UPDATE SET passages = excluded.passages, lexemes = excluded.lexemes
        """
    )


def downgrade() -> None:
    """Drop it again."""
    op.execute("DROP TABLE IF EXISTS keyword_stats")
