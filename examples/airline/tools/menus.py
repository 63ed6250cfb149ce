"""What the meal and flight-option widgets offer, built from the customer's profile.

The model only names the flight; the options come from here, so it cannot offer a meal or a
flight that does not exist. Each function says a short lead-in before its widget appears.
"""

from __future__ import annotations

from datetime import date, timedelta

from chatkit_host.tools import ToolRun

MEALS = [
    {"id": "fish", "label": "Grilled cod, potatoes and greens", "kind": "Fish", "premium": False},
    {"id": "veg", "label": "Chickpea and spinach stew", "kind": "Vegetarian", "premium": False},
    {"id": "vegan", "label": "Roasted vegetables with quinoa", "kind": "Vegan", "premium": False},
]
CHEFS_CHOICE = {"id": "lamb", "label": "Slow-cooked lamb with barley", "kind": "Chef's choice", "premium": True}
"""Gold and Platinum members also get the chef's choice."""

ALTERNATIVES = [(-1, "07:15", 3), (0, "13:50", 12), (1, "09:40", 27)]
"""Other departures on the same route: days from the booked date, time, seats left."""


def _booked(run: ToolRun, flight: str) -> dict:
    wanted = flight.replace(" ", "").upper()
    for booked in run.state["flights"]:
        if booked["number"].replace(" ", "") == wanted and booked["status"] == "confirmed":
            return booked
    raise ValueError(f"there is no confirmed flight {flight} on this booking")


async def meal_choices(run: ToolRun, flight: str) -> dict:
    """The meals the customer can choose from on one of their flights.

    Args:
        flight: The flight number, e.g. "SK 318".
    """
    booked = _booked(run, flight)
    premium = run.state["tier"] in ("Gold", "Platinum")
    meals = [*MEALS, CHEFS_CHOICE] if premium else MEALS
    note = f"As a {run.state['tier']} member you also get the chef's choice." if premium else "Served after take-off."
    await run.say(f"Here's what's cooking on {booked['number']} to {booked['destination']}:")
    return {"flight": booked["number"], "note": note, "meals": meals}


async def flight_choices(run: ToolRun, flight: str) -> dict:
    """Other flights on the same route around the booked one's date.

    Args:
        flight: The flight to replace, e.g. "SK 318".
    """
    booked = _booked(run, flight)
    day = date.fromisoformat(booked["date"])
    prefix, number = booked["number"].split()
    options = [
        {"number": f"{prefix} {int(number) + 10 * (index + 1)}", "date": (day + timedelta(days=shift)).isoformat(),
         "departs": departs, "seats_left": seats}
        for index, (shift, departs, seats) in enumerate(ALTERNATIVES)
    ]
    await run.say(f"These go from {booked['origin']} to {booked['destination']} around {booked['date']}:")
    return {"flight": booked["number"], "origin": booked["origin"], "destination": booked["destination"],
            "options": options}
