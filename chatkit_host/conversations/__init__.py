"""Conversation tests: YAML scripts of user turns and expectations, run over the real endpoint."""
