"""One send pace per bot: replicas reserve Bot API send slots from one row, so the limit holds overall."""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add send_pace: the next free slot, the current interval and any flood pause of each bot."""
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS send_pace (
            bot_id BIGINT PRIMARY KEY,
            slot_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
            next_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
            paused_until TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
            interval_s DOUBLE PRECISION NOT NULL
        )
        """
    )


def downgrade() -> None:
    """Drop it again."""
    op.execute("DROP TABLE IF EXISTS send_pace")
