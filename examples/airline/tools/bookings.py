"""Skylark Air's booking rules: seats, cancellations, bags and rebooking on the customer's profile.

Each tool reads the profile from the thread's state (`run.state`) and returns what changed; the
`set_state` and `effect` options in chatkit.yaml save it and tell the page. A broken rule raises
`ValueError`, whose message is what the model reads.
"""

from __future__ import annotations

import re

from chatkit_host.tools import ToolRun

SEAT = re.compile(r"^([1-9]|[1-3][0-9])([A-F])$")
LAST_ROW = 32
FRONT_ROWS = 3
"""Rows 1–3 are the front cabin: Platinum members only."""
FREE_BAGS = {"Blue": 0, "Silver": 1, "Gold": 2, "Platinum": 3}
BAG_PRICE_EUR = 45
MAX_BAGS = 4


def _flights(run: ToolRun) -> list[dict]:
    return [dict(flight) for flight in run.state["flights"]]


def _find(flights: list[dict], number: str) -> dict:
    wanted = number.replace(" ", "").upper()
    for flight in flights:
        if flight["number"].replace(" ", "") == wanted:
            if flight["status"] == "cancelled":
                raise ValueError(f"{flight['number']} is cancelled")
            return flight
    booked = ", ".join(f["number"] for f in flights)
    raise ValueError(f"there is no flight {number} on this booking (booked: {booked})")


def change_seat(run: ToolRun, flight: str, seat: str) -> dict:
    """Move the customer to another seat on one of their flights.

    Args:
        flight: The flight number, e.g. "SK 318".
        seat: The new seat: row 1-32 and letter A-F, e.g. "9A".
    """
    match = SEAT.match(seat.strip().upper())
    if match is None or int(match.group(1)) > LAST_ROW:
        raise ValueError(f"{seat} is not a seat on this aircraft (rows 1-{LAST_ROW}, letters A-F)")
    if int(match.group(1)) <= FRONT_ROWS and run.state["tier"] != "Platinum":
        raise ValueError(f"rows 1-{FRONT_ROWS} are for Platinum members; any seat from row {FRONT_ROWS + 1} is free")
    flights = _flights(run)
    booked = _find(flights, flight)
    booked["seat"] = match.group(0)
    return {"flights": flights, "message": f"seat {booked['seat']} on {booked['number']}"}


def cancel_flight(run: ToolRun, flight: str) -> dict:
    """Cancel one of the customer's flights (refunded to the card it was paid with).

    Args:
        flight: The flight number, e.g. "SK 319".
    """
    flights = _flights(run)
    booked = _find(flights, flight)
    booked["status"] = "cancelled"
    return {"flights": flights, "message": f"{booked['number']} cancelled"}


def add_bags(run: ToolRun, count: int) -> dict:
    """Add checked bags to the booking.

    Args:
        count: How many bags to add (1-4).
    """
    bags = run.state["bags"] + count
    if count < 1 or bags > MAX_BAGS:
        raise ValueError(f"a booking takes 1 to {MAX_BAGS} checked bags; it has {run.state['bags']}")
    free = FREE_BAGS[run.state["tier"]]
    paid = max(0, bags - free) - max(0, run.state["bags"] - free)
    cost = f"{paid * BAG_PRICE_EUR} EUR for {paid} bag(s) over the allowance" if paid else "free"
    return {"bags": bags, "message": f"{bags} checked bag(s) now; this change is {cost}"}


def rebook(run: ToolRun, flight: str, number: str, date: str, departs: str) -> dict:
    """Replace a flight with another one on the same route, keeping the seat.

    Args:
        flight: The flight being replaced.
        number: The new flight's number.
        date: The new flight's date (YYYY-MM-DD).
        departs: The new flight's departure time (HH:MM).
    """
    flights = _flights(run)
    booked = _find(flights, flight)
    booked.update(number=number, date=date, departs=departs)
    return {"flights": flights, "message": f"{flight} replaced by {number} on {date}"}
