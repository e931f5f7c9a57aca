"""Buses that carry live events between the server's processes (below the web layer, above conversations)."""
