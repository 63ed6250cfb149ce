"""Benchmarks: chatkit-host against a hand-written ChatKit server (see bench/README.md)."""
