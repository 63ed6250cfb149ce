"""CLI commands beyond the core four, one module each; `cli.py` registers them."""
