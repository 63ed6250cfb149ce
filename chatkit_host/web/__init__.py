"""The HTTP side: the Litestar app (the ChatKit endpoint, `/healthz`), the upload and preview routes,
the entity routes, the playground page and the per-request observation behind `/metrics` and logs.

May import: `host`, `reload`, `protocol` and every layer below them; nothing here is imported by
the layers below.
"""
