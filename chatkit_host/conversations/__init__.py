"""Conversation tests: YAML scripts of user turns and expectations, run over the real endpoint.

May import: `web` (the app the conversations talk to) and every layer below it.
"""
