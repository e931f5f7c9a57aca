"""Browser tests: the chat widget in Chromium against a real shopchat server (``pytest -m browser``)."""
