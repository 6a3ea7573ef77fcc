"""The result store: SQLAlchemy models, engine set-up and Alembic migrations."""

from benchbed.store.engine import open_store, upgrade, upgrade_store

__all__ = ["open_store", "upgrade", "upgrade_store"]
