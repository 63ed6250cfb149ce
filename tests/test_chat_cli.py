"""`chatkit-host chat`, driven in a real pseudo-terminal (pexpect) against the offline example."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pexpect
import pytest

from chatkit_host.testing import serve_host
from projects import REPO

pytestmark = pytest.mark.serial

EXAMPLE_FILES = ["chatkit.yaml", "demo.yaml", "agents", "tools", "widgets"]


def example_copy(root: Path) -> Path:
    """The repository's example project, copied so its store and logs stay out of the repo."""
    root.mkdir(parents=True)
    for name in EXAMPLE_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / name)
    return root


def test_a_conversation_with_a_widget_a_form_and_a_client_tool(tmp_path: Path) -> None:
    project = example_copy(tmp_path / "example")
    with serve_host(project, env={"CHATKIT_STORE_URL": "memory://"}, timeout=90) as host:
        chat = pexpect.spawn(sys.executable, ["-m", "chatkit_host", "chat", "--url", host.url],
                             cwd=project, encoding="utf-8", timeout=30, dimensions=(50, 200))
        try:
            _converse(chat)
        finally:
            chat.close(force=True)


def _converse(chat: pexpect.spawn) -> None:
    chat.expect_exact("you> ")
    # Streamed text.
    chat.sendline("hello")
    chat.expect_exact("bot> Hello! I'm the offline demo assistant.")
    chat.expect_exact("you> ")

    # A widget as text, its button clicked: progress, the card replaced, the model's follow-up.
    chat.sendline("show me order A-1001")
    chat.expect_exact("┌─ widget")
    chat.expect_exact("Order A-1001  (shipped)")
    chat.expect_exact("[1 Refresh status]")
    chat.expect_exact("bot> Here is order A-1001.")
    chat.expect_exact("you> ")
    chat.sendline("/click 1")
    chat.expect_exact("(clicked [Refresh status])")
    chat.expect_exact("… Looking up the order…")
    chat.expect_exact("┌─ widget (updated)")
    chat.expect_exact("[1 Refresh status]")  # the same button keeps its number
    chat.expect_exact('bot> I checked again: {"order_id":"A-1001"')
    chat.expect_exact("you> ")

    # A form, asked question by question.
    chat.sendline("I need to open a ticket")
    chat.expect_exact("? How urgent is it?")
    chat.expect_exact("3. High")
    chat.expect_exact("(a number; Enter to skip)> ")
    chat.sendline("3")
    chat.expect_exact("? What is it about?")
    chat.expect_exact("(numbers, comma-separated; Enter to skip)> ")
    chat.sendline("1, 3")
    chat.expect_exact("? Anything else we should know?")
    chat.expect_exact("(your answer; Enter to skip)> ")
    chat.sendline("")
    chat.expect_exact("bot> Thanks, your ticket is filed with those details.")
    chat.expect_exact("you> ")

    # A client tool: the terminal asks for its JSON result and refuses what is not JSON.
    chat.sendline("/new")
    chat.expect_exact("(a new thread starts with your next message)")
    chat.sendline("switch to dark mode")
    chat.expect_exact('client tool switch_theme({"theme": "dark"}) — type its JSON result> ')
    chat.sendline("{applied")
    chat.expect_exact("! not JSON")
    chat.expect_exact("type its JSON result> ")
    chat.sendline('{"applied": true}')
    chat.expect_exact('bot> Done, the client answered: {"applied": true}')
    chat.expect_exact("you> ")

    # /retry answers the last message again; /threads lists both threads and opens one.
    chat.sendline("/retry")
    chat.expect_exact("type its JSON result> ")
    chat.sendline('{"applied": false}')
    chat.expect_exact('bot> Done, the client answered: {"applied": false}')
    chat.expect_exact("you> ")
    chat.sendline("/threads")
    chat.expect_exact("*1. switch to dark mode")
    chat.expect_exact(" 2. hello")
    chat.expect_exact("open which? (number, Enter to stay) ")
    chat.sendline("2")
    chat.expect_exact("you> hello")
    chat.expect_exact("bot> Here is order A-1001.")
    chat.expect_exact("you> I need to open a ticket")
    chat.expect_exact("(thread ")
    chat.expect_exact("you> ")
    chat.sendline("/quit")
    chat.expect(pexpect.EOF)
