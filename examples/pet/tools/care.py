"""What feeding, playing and resting do to the pet. Plain rules, no chat code besides `ToolRun`."""

from __future__ import annotations

from chatkit_host.tools import ToolRun

FOODS = {"kibble": 25, "a carrot": 15, "a treat": 10}
"""How much hunger each food takes away; treats are small but make the pet happy."""


def clamp(value: int) -> int:
    return max(0, min(100, value))


def mood(stats: dict[str, int]) -> str:
    """One word for how the pet feels, checked from the most to the least urgent need."""
    if stats["hunger"] >= 80:
        return "starving"
    if stats["energy"] <= 20:
        return "sleepy"
    if stats["happiness"] <= 30:
        return "bored"
    if stats["happiness"] >= 75 and stats["hunger"] <= 40:
        return "delighted"
    return "content"


async def _apply(run: ToolRun, hunger: int = 0, energy: int = 0, happiness: int = 0) -> dict[str, int]:
    before = run.state
    changed = {
        "hunger": clamp(before["hunger"] + hunger),
        "energy": clamp(before["energy"] + energy),
        "happiness": clamp(before["happiness"] + happiness),
    }
    await run.set_state(**changed)
    await run.effect("pet_mood", {"mood": mood(changed), **changed})
    return changed


def _me(run: ToolRun) -> str:
    return run.state.get("name") or "Your pet"


async def feed(run: ToolRun, food: str) -> str:
    """Give the pet something to eat.

    Args:
        food: What to give: "kibble", "a carrot" or "a treat".
    """
    if food not in FOODS:
        raise ValueError(f"there is no {food} in the cupboard; there is {', '.join(FOODS)}")
    if run.state["hunger"] <= 10:
        return f"{_me(run)} sniffs the {food} and walks away: not hungry at all."
    stats = await _apply(run, hunger=-FOODS[food], energy=5, happiness=15 if food == "a treat" else 5)
    return f"Nom nom! {_me(run)} ate {food}. Hunger is down to {stats['hunger']}."


async def play(run: ToolRun, game: str) -> str:
    """Play a game with the pet. Playing is fun but tiring and makes it hungry.

    Args:
        game: The game, e.g. "ball" or "hide and seek".
    """
    if run.state["energy"] < 15:
        return f"{_me(run)} is too tired to play {game}. A nap first?"
    stats = await _apply(run, hunger=10, energy=-20, happiness=25)
    return f"Wheee! {_me(run)} loved the {game}. Happiness is up to {stats['happiness']}."


async def rest(run: ToolRun, minutes: int) -> str:
    """Let the pet take a nap.

    Args:
        minutes: How long the nap lasts (5 to 120).
    """
    minutes = max(5, min(120, minutes))
    stats = await _apply(run, hunger=minutes // 10, energy=minutes)
    return f"Zzz… after {minutes} minutes {_me(run)} wakes up with energy {stats['energy']}."
