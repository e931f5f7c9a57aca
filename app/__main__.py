"""``python -m app`` is the ``shopchat`` command."""

from app.cli import main

main()
