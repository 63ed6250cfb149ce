"""The script file of the offline scripted model: its format, loading and validation.

A script is YAML::

    replies:
      - when: "order"              # substring (case-insensitive), "/regex/", or a list of either
        steps:                     # one step per model call within the turn
          - call: lookup_order
            arguments: { order_id: "A-1001" }
          - say: "Order {{ tool_output }} is on its way."
      - when: "draw"
        steps:
          - image: { partial_images: 2, color: "#3366cc" }   # the hosted image_generation tool
          - say: "Here it is."
      - steps:                     # no `when`: the fallback
          - say: "You said: {{ user_text }}"
    order: match                   # match | sequence
    stream: word                   # word | char | whole
    delay_ms: 0

A step is one of:

- `say: TEMPLATE` — an assistant message.
- `call: TOOL` with `arguments: {…}` — a function tool call (a handoff is `transfer_to_AGENT`).
- `image: {partial_images: N, color: "#rrggbb"}` — a hosted image generation call, streamed as the
  Responses API streams it: the `image_generation_call` item, N partial images (0–3, default 0), then
  the final image (a 2×2 PNG of `color`, default `#3366cc`; see `image.py`). Both keys are
  optional (`image: {}`). The provider runs the tool, so the runner makes the next model call at
  once: follow an `image` with a `say` for the turn's message.

`load_script` reports every problem at once, in file order, each with the file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import jinja2
import yaml
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from chatkit_host.config.yaml_reader import compose_file
from chatkit_host.config.yaml_nodes import NodeReader, did_you_mean, join_key, node_value
from chatkit_host.errors import ConfigProblem

Order = Literal["match", "sequence"]
Streaming = Literal["word", "char", "whole"]

TEMPLATE_VARIABLES = ("user_text", "tool_output", "tool_outputs", "turn", "agent")
"""The names a `say` template (or a string in `arguments`) may use."""

# Sandboxed: templates come from the script's author, while the values they are rendered with (user
# text, tool output) are data that is never compiled; the sandbox also stops attribute tricks.
TEMPLATES = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)

_TOP_KEYS = ("replies", "order", "stream", "delay_ms")
_REPLY_KEYS = ("when", "steps")
_STEP_KEYS = ("say", "call", "arguments", "image")
_STEP_KINDS = ("say", "call", "image")
_IMAGE_KEYS = ("partial_images", "color")
MAX_PARTIAL_IMAGES = 3
"""The most partial images the hosted image_generation tool streams."""
DEFAULT_IMAGE_COLOR = (0x33, 0x66, 0xCC)
_ORDERS: tuple[Order, ...] = ("match", "sequence")
_STREAMS: tuple[Streaming, ...] = ("word", "char", "whole")
_STR = "tag:yaml.org,2002:str"
_T = TypeVar("_T")


@dataclass(frozen=True)
class ImageStep:
    """A hosted image generation call: how many partial images stream before the final one."""

    partial_images: int = 0
    color: tuple[int, int, int] = DEFAULT_IMAGE_COLOR
    """RGB of the generated picture."""


@dataclass(frozen=True)
class Step:
    """One model call: `say` (a template), `call` (a tool name, with templated `arguments`) or
    `image` (a hosted image generation call)."""

    line: int
    """1-based line of the step in the script file."""
    say: jinja2.Template | None = None
    call: str | None = None
    arguments: Any = None
    """The `arguments` mapping with each string replaced by its template; see `render_arguments`."""
    image: ImageStep | None = None


@dataclass(frozen=True)
class Reply:
    """What the model does for one user message: the steps of the turn, in order."""

    when: tuple[re.Pattern[str], ...]
    """Patterns of which any must match the user text; empty for the fallback."""
    steps: tuple[Step, ...]

    def matches(self, user_text: str) -> bool:
        return not self.when or any(pattern.search(user_text) for pattern in self.when)


@dataclass(frozen=True)
class Script:
    """A validated script. Immutable, so one instance is safe to share between models."""

    path: Path
    replies: tuple[Reply, ...]
    order: Order = "match"
    stream: Streaming = "word"
    delay_ms: int = 0

    def reply_for(self, user_text: str, turn: int) -> Reply | None:
        """The reply of a turn: the `turn`-th (cycling) in sequence order, else the first match."""
        if self.order == "sequence":
            return self.replies[(max(turn, 1) - 1) % len(self.replies)]
        return next((reply for reply in self.replies if reply.matches(user_text)), None)

    def step_for(self, user_text: str, turn: int, index: int) -> Step | None:
        """The `index`-th (0-based) step of the turn; None when the model should say nothing.

        Past the end a final `say` repeats, but a final `call` or `image` is not made again: every
        turn must end, and an empty message ends it. No matching reply also says nothing.
        """
        reply = self.reply_for(user_text, turn)
        if reply is None or not reply.steps:
            return None
        if index < len(reply.steps):
            return reply.steps[index]
        last = reply.steps[-1]
        return last if last.say is not None else None


def load_script(path: Path) -> Script:
    """Read and validate a script file.

    Raises:
        ConfigError: one problem per mistake, each naming the file, line and dotted key.
    """
    root = compose_file(path, "script")
    reader = _Reader(path)
    script = reader.script(root)
    reader.raise_problems()
    return script


def render_arguments(arguments: Any, variables: Mapping[str, Any]) -> Any:
    """`Step.arguments` with every template rendered: plain, JSON-serializable data."""
    if isinstance(arguments, jinja2.Template):
        return arguments.render(variables)
    if isinstance(arguments, dict):
        return {key: render_arguments(value, variables) for key, value in arguments.items()}
    if isinstance(arguments, list):
        return [render_arguments(value, variables) for value in arguments]
    return arguments


class _Reader(NodeReader):
    """Builds a `Script` from the composed YAML nodes, collecting problems as it goes.

    Walking nodes rather than loaded data is what gives every problem its line and column. Each
    method returns a usable placeholder after a problem, so one pass finds them all.
    """

    def script(self, root: yaml.Node | None) -> Script:
        if not isinstance(root, yaml.MappingNode):
            self.problems.append(
                ConfigProblem("a script is a mapping with a `replies` list", file=self.path, line=1)
            )
            return Script(path=self.path, replies=())
        fields = self.fields(root, None, _TOP_KEYS)
        replies = self.items(fields.get("replies"), root, "replies", self.reply, "replies")
        return Script(
            path=self.path,
            replies=tuple(replies),
            order=self.choice(fields.get("order"), "order", _ORDERS),
            stream=self.choice(fields.get("stream"), "stream", _STREAMS),
            delay_ms=self.delay(fields.get("delay_ms")),
        )

    def reply(self, node: yaml.Node, where: str) -> Reply:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, "a reply is a mapping with `steps` (and optionally `when`)")
            return Reply(when=(), steps=())
        fields = self.fields(node, where, _REPLY_KEYS)
        when = tuple(self.patterns(fields["when"], f"{where}.when")) if "when" in fields else ()
        # A misspelt `steps` was reported as an unknown key already: report it once.
        if "steps" not in fields and len(fields) < len(node.value):
            return Reply(when=when, steps=())
        steps = self.items(fields.get("steps"), node, f"{where}.steps", self.step, "steps")
        return Reply(when=when, steps=tuple(steps))

    def step(self, node: yaml.Node, where: str) -> Step:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, "a step is a mapping with `say`, `call` or `image`")
            return Step(line)
        fields = self.fields(node, where, _STEP_KEYS)
        kinds = [kind for kind in _STEP_KINDS if kind in fields]
        if len(kinds) == 2:
            self.problem(node, where, f"a step has both `{kinds[0]}` and `{kinds[1]}`",
                         "make them two steps")
        elif len(kinds) > 2:
            self.problem(node, where, "a step has `say`, `call` and `image`", "make them separate steps")
        elif "image" in fields:
            if "arguments" in fields:
                self.problem(
                    fields["arguments"], f"{where}.arguments", "goes with `call`, not `image`"
                )
            return Step(line, image=self.image(fields["image"], f"{where}.image"))
        elif "say" in fields:
            if "arguments" in fields:
                self.problem(
                    fields["arguments"], f"{where}.arguments", "goes with `call`, not `say`"
                )
            return Step(line, say=self.template(fields["say"], f"{where}.say"))
        elif "call" in fields:
            arguments = self.arguments(fields.get("arguments"), f"{where}.arguments")
            return Step(
                line, call=self.string(fields["call"], f"{where}.call"), arguments=arguments
            )
        elif len(fields) == len(node.value):  # else a misspelt say/call was reported already
            self.problem(node, where, "a step needs `say`, `call` or `image`")
        return Step(line)

    def image(self, node: yaml.Node, where: str) -> ImageStep:
        if not isinstance(node, yaml.MappingNode):
            self.problem(
                node, where, "must be a mapping, e.g. `{ partial_images: 2 }` (or `{}`)",
            )
            return ImageStep()
        fields = self.fields(node, where, _IMAGE_KEYS)
        partial, color = 0, DEFAULT_IMAGE_COLOR
        if "partial_images" in fields:
            found = fields["partial_images"]
            value = node_value(found) if isinstance(found, yaml.ScalarNode) else None
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PARTIAL_IMAGES:
                partial = value
            else:
                self.problem(found, f"{where}.partial_images",
                             f"must be a whole number from 0 to {MAX_PARTIAL_IMAGES}")
        if "color" in fields:
            text = self.string(fields["color"], f"{where}.color")
            if text is not None and re.fullmatch(r"#[0-9a-fA-F]{6}", text):
                color = (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))
            elif text is not None:
                self.problem(fields["color"], f"{where}.color", "must be a color like \"#3366cc\"")
        return ImageStep(partial_images=partial, color=color)

    def items(
        self,
        node: yaml.Node | None,
        parent: yaml.Node,
        where: str,
        read: Callable[[yaml.Node, str], _T],
        what: str,
    ) -> Iterator[_T]:
        """Each item of a required, non-empty list, read with `read(node, where)`."""
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node or parent, where, f"must be a non-empty list of {what}")
            return
        for index, item in enumerate(node.value):
            yield read(item, f"{where}[{index}]")

    def patterns(self, node: yaml.Node, where: str) -> Iterator[re.Pattern[str]]:
        """`when`: one pattern or a list; "/…/" is a regex, anything else a plain substring."""
        if isinstance(node, yaml.SequenceNode):
            items = [(item, f"{where}[{index}]") for index, item in enumerate(node.value)]
        else:
            items = [(node, where)]
        for item, item_where in items:
            text = self.string(item, item_where)
            if text is None:
                continue
            if len(text) > 1 and text.startswith("/") and text.endswith("/"):
                try:
                    yield re.compile(text[1:-1], re.IGNORECASE)
                except re.error as error:
                    self.problem(item, item_where, f"bad regular expression: {error}")
            else:
                yield re.compile(re.escape(text), re.IGNORECASE)

    def arguments(self, node: yaml.Node | None, where: str) -> Any:
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, "must be a mapping of argument names to values")
            return {}
        return self.data(node, where)

    def data(self, node: yaml.Node, where: str) -> Any:
        """Plain data, with every string turned into a template (rendered on each call)."""
        if isinstance(node, yaml.MappingNode):
            return {
                str(key.value): self.data(value, join_key(where, str(key.value)))
                for key, value in node.value
            }
        if isinstance(node, yaml.SequenceNode):
            return [self.data(item, f"{where}[{index}]") for index, item in enumerate(node.value)]
        if node.tag == _STR:
            return self.template(node, where)
        return node_value(node)

    def template(self, node: yaml.Node, where: str) -> jinja2.Template | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            self.problem(node, where, "must be a string", "quote it if it looks like a number")
            return None
        try:
            parsed = TEMPLATES.parse(node.value)
        except jinja2.TemplateSyntaxError as error:
            # A block scalar (`|`, `>`) starts on the line after its indicator.
            first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
            self.problems.append(
                ConfigProblem(
                    f"template error: {error.message}",
                    file=self.path,
                    line=first + (error.lineno or 1) - 1,
                    key=where,
                )
            )
            return None
        unknown = meta.find_undeclared_variables(parsed) - set(TEMPLATES.globals)
        for name in sorted(unknown - set(TEMPLATE_VARIABLES)):
            hint = did_you_mean(name, TEMPLATE_VARIABLES, f"use {', '.join(TEMPLATE_VARIABLES)}")
            self.problem(node, where, f"unknown template variable '{name}'", hint)
        return TEMPLATES.from_string(node.value)

    def string(self, node: yaml.Node, where: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR and node.value:
            return str(node.value)
        self.problem(
            node, where, "must be a non-empty string", "quote it if it looks like a number"
        )
        return None

    def choice(self, node: yaml.Node | None, where: str, allowed: tuple[str, ...]) -> Any:
        if node is None:
            return allowed[0]
        if isinstance(node, yaml.ScalarNode) and node.value in allowed:
            return node.value
        hint = did_you_mean(str(getattr(node, "value", "")), allowed, None)
        self.problem(node, where, f"must be one of: {', '.join(allowed)}", hint)
        return allowed[0]

    def delay(self, node: yaml.Node | None) -> int:
        if node is None:
            return 0
        value = node_value(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        self.problem(node, "delay_ms", "must be a whole number of milliseconds, 0 or more")
        return 0
