"""`chatkit-host test [FILES]`: run conversation tests offline against the project's own config."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from chatkit_host.config.loader import load_config
from chatkit_host.conversations.report import outcome_lines, summary_line
from chatkit_host.conversations.runner import NotOffline, Outcome, build_offline, run_conversation
from chatkit_host.conversations.spec import Conversation, load_conversations
from chatkit_host.errors import ConfigError, ConfigProblem
from chatkit_host.runtime.build import Runtime

DEFAULT_FOLDER = "conversations"
"""Where `chatkit-host test` looks when given no FILES: beside chatkit.yaml."""

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@click.command("test")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("CHATKIT_HOST_CONFIG", "chatkit.yaml"),
    show_default="chatkit.yaml", help="The configuration file.",
)
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Answer every agent from this scripted-model file (for configs on real models).")
def test_command(files: tuple[Path, ...], config_path: Path, script: Path | None) -> None:
    """Run conversation tests (YAML) over the real endpoint with the scripted model.

    FILES are conversation files or folders of them; by default every *.yaml in `conversations/`
    beside the configuration. The store is in memory: your data is never touched. Exits 1 when a
    conversation fails.
    """
    if not config_path.is_file():
        _fail(f"{config_path} not found (hint: run in the project folder or pass --config)")
    cwd = Path.cwd()
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # per-request log lines would bury the report; warnings still show
    try:
        _run(config_path, files, script, cwd)
    finally:
        # Callers in the same process (tests, an embedding program) get their logging back.
        logging.disable(previous)


def _run(config_path: Path, files: tuple[Path, ...], script: Path | None, cwd: Path) -> None:
    try:
        loaded = load_config(config_path)
        paths = _files(files, loaded.base_dir)
        conversations = [c for path in paths for c in load_conversations(path)]
    except ConfigError as error:
        for problem in error.problems:
            err.print(f"Error: {problem.render(cwd)}", markup=False)
        sys.exit(1)
    with tempfile.TemporaryDirectory(prefix="chatkit-conversations-") as scratch:
        record = Path(scratch) / "model-calls.jsonl"
        try:
            runtime = build_offline(loaded, record, script)
        except NotOffline as error:
            _fail(str(error))
        except ConfigError as error:
            for problem in error.problems:
                err.print(f"Error: {problem.render(cwd)}", markup=False)
            sys.exit(1)
        outcomes = asyncio.run(_run_all(runtime, conversations, record))
    for outcome in outcomes:
        for line in outcome_lines(outcome, cwd):
            out.print(line, markup=False)
    out.print(summary_line(outcomes), markup=False)
    sys.exit(0 if all(outcome.passed for outcome in outcomes) else 1)


async def _run_all(runtime: Runtime, conversations: list[Conversation], record: Path) -> list[Outcome]:
    return [await run_conversation(runtime, conversation, record) for conversation in conversations]


def _files(given: tuple[Path, ...], base_dir: Path) -> list[Path]:
    """The conversation files to run: the given files, folders expanded, or the default folder."""
    roots = list(given) or [base_dir / DEFAULT_FOLDER]
    paths: list[Path] = []
    for root in roots:
        if root.is_dir():
            paths += sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml"))
        elif root.exists():
            paths.append(root)
    if not paths:
        where = ", ".join(str(r) for r in roots)
        raise ConfigError(ConfigProblem(
            f"no conversation tests found in {where}",
            hint=f"write {DEFAULT_FOLDER}/*.yaml beside chatkit.yaml (see docs/conversation-tests.md)",
        ))
    return paths


def _fail(message: str) -> NoReturn:
    err.print(f"Error: {message}", markup=False)
    sys.exit(1)
