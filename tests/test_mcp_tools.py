"""`mcp` tools (streamable HTTP and stdio) against an MCP server the test starts; agents as tools."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.testing import ChatKitClient, run_host
from projects import base_config, recorded_calls, write_project

pytestmark = pytest.mark.serial

MCP_SERVER = '''
import sys
from mcp.server.mcpserver import MCPServer

server = MCPServer("orders")


@server.tool()
def order_status(order_id: str) -> str:
    """The shipping status of an order."""
    return f"order {order_id} is shipped (via {sys.argv[1]})"


@server.tool()
def hidden_tool() -> str:
    """Not listed in chatkit.yaml's tools filter."""
    return "never"


if sys.argv[1] == "stdio":
    server.run("stdio")
else:
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
'''

SCRIPT = {"replies": [{"steps": [
    {"call": "order_status", "arguments": {"order_id": "A-7"}},
    {"say": "MCP says: {{ tool_output }}"},
]}]}


@pytest.fixture(scope="module")
def mcp_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mcp") / "orders_mcp.py"
    path.write_text(MCP_SERVER)
    return path


@pytest.fixture(scope="module")
def mcp_url(mcp_script: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(mcp_script), "http", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until it listens (a readiness wait, not a timed assertion)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the test MCP server did not start", pytrace=False)
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def converse(root: Path, mcp: dict[str, Any]) -> Any:
    config = base_config()
    config["tools"]["orders"] = {"mcp": {**mcp, "tools": ["order_status"]}}
    config["agents"]["triage"]["tools"] = ["orders"]
    async with run_host(write_project(root, config, SCRIPT)) as running:
        http = running.http
        return await ChatKitClient("/chatkit", client=http).create_thread("where is A-7?")


def tool_output(root: Path) -> str:
    items = recorded_calls(root)[-1]["input"]
    output = next(item["output"] for item in items if item.get("type") == "function_call_output")
    return output if isinstance(output, str) else str(output)


async def test_an_mcp_server_over_streamable_http(tmp_path: Path, mcp_url: str) -> None:
    turn = await converse(tmp_path, {"url": mcp_url})
    assert recorded_calls(tmp_path)[0]["tools"] == ["order_status", "transfer_to_billing"]  # filtered
    assert "order A-7 is shipped (via http)" in tool_output(tmp_path)
    assert "order A-7 is shipped (via http)" in turn.assistant_text


async def test_an_mcp_server_over_stdio(tmp_path: Path, mcp_script: Path) -> None:
    turn = await converse(tmp_path, {"command": sys.executable, "args": [str(mcp_script), "stdio"],
                                     "timeout": 30})
    assert "order A-7 is shipped (via stdio)" in tool_output(tmp_path)
    assert "order A-7 is shipped (via stdio)" in turn.assistant_text


async def test_an_agent_as_a_tool(tmp_path: Path) -> None:
    config = base_config()
    config["agents"]["billing"]["instructions"] = "You are billing."
    config["tools"]["ask_billing"] = {"agent": "billing", "description": "Ask billing about money."}
    config["agents"]["triage"]["tools"] = ["ask_billing"]
    config["agents"]["triage"]["handoffs"] = []
    script = {"order": "match", "replies": [
        {"when": ["refund?"], "steps": [{"call": "ask_billing", "arguments": {"input": "refund A-1?"}},
                                        {"say": "Billing told me: {{ tool_output }}"}]},
        {"when": ["refund A-1?"], "steps": [{"say": "approved"}]},
    ]}
    async with run_host(write_project(tmp_path, config, script)) as running:
        http = running.http
        turn = await ChatKitClient("/chatkit", client=http).create_thread("can I get a refund?")
    assert turn.assistant_text == "Billing told me: approved"
    calls = recorded_calls(tmp_path)
    assert [call["instructions"] for call in calls][1] == "You are billing."
    assert calls[0]["tools"] == ["ask_billing"]
