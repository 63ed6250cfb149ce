"""The conversation test file: its format, loading and validation (see docs/conversation-tests.md).

A file holds one conversation (a mapping with `steps`) or a list of them::

    name: An order lookup          # optional; defaults to the file name
    user: alice                    # optional; the user id the conversation runs as
    steps:
      - user: Where is order A-1001?          # one request kind per step ...
        expect:                               # ... and what must come back
          assistant: { contains: on its way }
          progress: [Looking up the order…]

Step kinds map one to one onto ChatKit requests, so new server features need no new runner code
beyond a line in `STEP_KINDS`. Every problem is reported at once, each with file, line and key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chatkit_host.config.yaml_reader import compose_file
from chatkit_host.config.yaml_nodes import NodeReader, did_you_mean, join_key, node_value

STEP_KINDS = {
    "user": "a user message (threads.create, then threads.add_user_message)",
    "action": "a widget action click (threads.custom_action)",
    "form": "answers to the pending form (threads.add_structured_input)",
    "client_tool": "the result of the pending client tool call (threads.add_client_tool_output)",
    "retry": "answer the latest user message again (threads.retry_after_item)",
}
"""Each step has exactly one of these keys: what the simulated user does."""

EXPECT_KEYS = {
    "assistant": "the assistant text of the step (messages joined by newlines)",
    "items": "the items the step completed, in order (a type name or a partial item each)",
    "widget": "the last widget the step showed or replaced (a partial widget tree)",
    "widgets": "every widget the step showed or replaced, in order",
    "progress": "the progress update texts, in order",
    "client_tool": "the client tool call the step ended with (`name`, `arguments`)",
    "form": "the questions of the form the step asked (partial `inputs`)",
    "model_input": "what the model received on the step's last call",
    "thread": "the thread after the step (partial: `title`, `status`, `metadata`)",
    "state": "the thread's state after the step (partial), as the page's state route reads it",
    "effects": "the client effects the step sent, in order (`{name, data}` each, partial)",
    "workflow": "the nodes the step's workflow ran, in order (or partial `{name, nodes}`)",
    "error": "the request is refused: partial `{status, code, message}` of the JSON error",
}
"""Keys of a step's `expect` mapping."""

MODEL_INPUT_KEYS = ("includes", "instructions", "tools", "calls")
_CONVERSATION_KEYS = ("name", "user", "steps")
_STEP_KEYS = (*STEP_KINDS, "expect")


@dataclass(frozen=True)
class Step:
    """One request of a conversation and what its answer must look like."""

    kind: str
    value: Any
    line: int
    expect: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """`user: "Where is order A-1001?"`: the step as a person recognises it."""
        shown = self.value if isinstance(self.value, str) else yaml.safe_dump(
            self.value, default_flow_style=True, allow_unicode=True, sort_keys=False).strip()
        return f"{self.kind}: {shown!r}" if isinstance(self.value, str) else f"{self.kind}: {shown}"


@dataclass(frozen=True)
class Conversation:
    """A named sequence of steps, run on a fresh thread and an empty store."""

    name: str
    file: Path
    line: int
    steps: tuple[Step, ...]
    user: str | None = None


def load_conversations(path: Path) -> list[Conversation]:
    """Read and validate one conversation file.

    Raises:
        ConfigError: every problem of the file, each with its line and key.
    """
    root = compose_file(path, "conversation file")
    reader = _Reader(path)
    conversations = reader.file(root)
    reader.raise_problems()
    return conversations


class _Reader(NodeReader):
    def file(self, root: yaml.Node | None) -> list[Conversation]:
        if isinstance(root, yaml.SequenceNode) and root.value:
            return [self.conversation(node, f"[{i}]", i) for i, node in enumerate(root.value)]
        if isinstance(root, yaml.MappingNode):
            return [self.conversation(root, None, 0)]
        self.problem(root, None, "a conversation file is a mapping with `steps`, or a list of them")
        return []

    def conversation(self, node: yaml.Node, where: str | None, index: int) -> Conversation:
        line = node.start_mark.line + 1
        default_name = self.path.stem if index == 0 else f"{self.path.stem} #{index + 1}"
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, "a conversation is a mapping with `steps`")
            return Conversation(default_name, self.path, line, ())
        fields = self.fields(node, where, _CONVERSATION_KEYS)
        steps_node = fields.get("steps")
        if not isinstance(steps_node, yaml.SequenceNode) or not steps_node.value:
            self.problem(steps_node or node, join_key(where, "steps"), "must be a non-empty list of steps")
            steps: list[Step] = []
        else:
            steps = [self.step(item, f"{join_key(where, 'steps')}[{i}]")
                     for i, item in enumerate(steps_node.value)]
            if steps and steps[0].kind not in ("user", ""):
                self.problem(steps_node.value[0], f"{join_key(where, 'steps')}[0]",
                             f"the first step starts the thread, so it must be `user`, not `{steps[0].kind}`")
        name = self.scalar(fields.get("name"), join_key(where, "name")) or default_name
        user = self.scalar(fields.get("user"), join_key(where, "user"))
        return Conversation(str(name), self.path, line, tuple(steps), str(user) if user else None)

    def step(self, node: yaml.Node, where: str) -> Step:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, "a step is a mapping with one of: " + ", ".join(STEP_KINDS))
            return Step("", None, line)
        fields = self.fields(node, where, _STEP_KEYS)
        kinds = [key for key in fields if key in STEP_KINDS]
        if len(kinds) != 1:
            message = "has several request kinds" if kinds else "needs a request kind"
            self.problem(node, where, f"{message}: one of {', '.join(STEP_KINDS)}",
                         "make them separate steps" if kinds else None)
            return Step("", None, line)
        kind = kinds[0]
        value = node_value(fields[kind])
        self.check_value(kind, value, fields[kind], f"{where}.{kind}")
        expect: dict[str, Any] = {}
        if "expect" in fields:
            expect_node = fields["expect"]
            if isinstance(expect_node, yaml.MappingNode):
                for key, value_node in self.fields(expect_node, f"{where}.expect",
                                                   tuple(EXPECT_KEYS)).items():
                    expect[key] = node_value(value_node)
                if isinstance(expect.get("model_input"), dict):
                    for key in expect["model_input"]:
                        if key not in MODEL_INPUT_KEYS:
                            self.problem(expect_node, f"{where}.expect.model_input",
                                         f"unknown key '{key}'", did_you_mean(key, MODEL_INPUT_KEYS, f"expected one of: {', '.join(MODEL_INPUT_KEYS)}"))
            else:
                self.problem(expect_node, f"{where}.expect", "must be a mapping of expectations")
        return Step(kind, value, line, expect)

    def check_value(self, kind: str, value: Any, node: yaml.Node, where: str) -> None:
        if kind == "user" and not (isinstance(value, str) and value):
            self.problem(node, where, "must be the message text")
        elif kind == "action" and not (isinstance(value, dict) and isinstance(value.get("type"), str)):
            self.problem(node, where, "must be a mapping with the action `type` (and `payload`)")
        elif kind == "action" and set(value) - {"type", "payload", "item"}:
            self.problem(node, where, "takes `type`, `payload` and `item` only")
        elif kind == "form" and not (isinstance(value, dict) or value == "skip"):
            self.problem(node, where, "must map question ids to answers, or be `skip`")
        elif kind == "client_tool" and not (isinstance(value, dict) and "result" in value):
            self.problem(node, where, "must be a mapping with the `result` (and optionally `name`)")
        elif kind == "client_tool" and set(value) - {"name", "result"}:
            self.problem(node, where, "takes `name` and `result` only")
        elif kind == "retry" and value is not True:
            self.problem(node, where, "write `retry: true`")

    def scalar(self, node: yaml.Node | None, where: str) -> Any:
        if node is None:
            return None
        if isinstance(node, yaml.ScalarNode):
            return node_value(node)
        self.problem(node, where, "must be a plain value")
        return None
