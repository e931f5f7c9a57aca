"""Revisions, applied in order by ``app.store.migrate.upgrade``; each file is frozen once released."""
