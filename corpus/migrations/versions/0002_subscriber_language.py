"""Subscriptions gain a language: the digest puts that language's stories first."""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add subscribers.language (NULL: the digest's overall order)."""
    op.execute("ALTER TABLE subscribers ADD COLUMN IF NOT EXISTS language TEXT")


def downgrade() -> None:
    """Drop it again."""
    op.execute("ALTER TABLE subscribers DROP COLUMN IF EXISTS language")
