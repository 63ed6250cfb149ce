"""chatkit-host: a ChatKit backend declared in chatkit.yaml."""

__version__ = "0.1.0"
