"""The python tool API: annotate a tool's first parameter `ToolRun` to reach the thread.

```python
from chatkit_host.tools import ToolRun

async def feed(run: ToolRun, amount: int) -> str:
    \"\"\"Feed the pet.\"\"\"
    hunger = max(0, run.state["hunger"] - amount)
    await run.set_state(hunger=hunger)
    await run.effect("pet.fed", {"hunger": hunger})
    return f"hunger is now {hunger}"
```

See docs/python-tools.md. Stable: names here change only with a major version.
"""

from chatkit_host.runtime.state import StateRefused
from chatkit_host.runtime.tool_run import ToolRun
from chatkit_host.runtime.widgets import WidgetError

__all__ = ["StateRefused", "ToolRun", "WidgetError"]
