"""What the host tells operators: Prometheus metrics, request and turn logs, and traces exported
over OTLP.

May import: `config`, `storage` and the foundation (`errors`, `refs`, `context`, `heap`).
"""
