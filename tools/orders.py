"""The example's python tool: any importable function can be a tool."""

ORDERS = {
    "A-1001": {"status": "shipped", "carrier": "UPS", "eta": "Thursday"},
    "A-1002": {"status": "processing", "carrier": None, "eta": "next week"},
}


def lookup_order(order_id: str) -> dict:
    """Look up an order by its id (like A-1001) and return its status.

    Args:
        order_id: The order id the customer gave.
    """
    order = ORDERS.get(order_id.strip().upper())
    if order is None:
        return {"order_id": order_id, "status": "not found"}
    return {"order_id": order_id, **order}
