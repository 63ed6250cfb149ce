"""Name ideas for the pet, picked by theme. The widget's buttons are made from this list."""

from __future__ import annotations

from chatkit_host.tools import ToolRun

IDEAS = {
    "classic": [("Biscuit", "warm and round"), ("Pepper", "small but lively"), ("Mochi", "soft and squishy"),
                ("Rusty", "a reddish coat")],
    "space": [("Comet", "always zooming"), ("Nova", "bright all of a sudden"), ("Pluto", "small and far away"),
              ("Orbit", "runs in circles")],
    "food": [("Noodle", "long and wiggly"), ("Dumpling", "round and happy"), ("Waffle", "a checkered coat")],
}


async def name_ideas(run: ToolRun, theme: str) -> dict:
    """Name ideas for the pet, shown as buttons.

    Args:
        theme: "classic", "space" or "food"; anything else gets the classic names.
    """
    if run.state.get("name"):
        raise ValueError(f"the pet already has a name: {run.state['name']}")
    chosen = theme if theme in IDEAS else "classic"
    await run.say("Ooh, a name! Here are a few I'd answer to:")
    return {"theme": chosen, "ideas": [{"name": name, "why": why} for name, why in IDEAS[chosen]]}
