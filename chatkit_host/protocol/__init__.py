"""The ChatKit protocol server: the `ChatKitServer` subclass, the checks made before a response
starts (preflight), request parsing, fresh item ids, one turn per thread (turn locks and leases),
watching a turn's outcome, clean-up that survives a cancelled request, and store outages as 503s.

May import: `runtime`, `observability`, `auth`, `storage`, `config` and the foundation; never `web`.
"""
