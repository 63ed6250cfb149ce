"""The only place configuration becomes objects: agents, tools of every kind, models, widgets,
forms, actions, converters, guardrails and the scripted model.

May import: `config`, `storage`, `observability`, `auth` and the foundation (`errors`, `refs`,
`context`, `heap`); never `protocol`, `web` or the CLI.
"""
