"""The playground page (`GET /`): ChatKit.js from its CDN, pointed at this host.

On by default when `auth.mode` is `none`; `client.playground` turns it on, off or moves it.
"""
