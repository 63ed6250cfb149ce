"""Loading and validating chatkit.yaml."""
