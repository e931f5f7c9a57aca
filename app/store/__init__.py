"""Persistence: the schema, its migrations, and a store that returns plain records."""
