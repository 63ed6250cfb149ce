"""CLI commands beyond the core four, one module each; `cli.py` registers them.

May import: anything in the package — the command line is the top layer.
"""
