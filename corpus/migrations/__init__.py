"""Alembic migrations of the PostgreSQL schema (articles, passages, subscriptions, feed state, index pointer)."""
