"""The only place configuration becomes objects: agents, tools, models, converters."""
