"""Helpers of ``bench/load.py``: fake upstream, relay peers, websocket load generator, process control."""
