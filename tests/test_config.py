"""chatkit.yaml loading: every problem is found, located and explained, and none leaks a value."""

from __future__ import annotations

from textwrap import dedent
from collections.abc import Mapping
from pathlib import Path

import pytest

from chatkit_host.config.envvars import expand, retype
from chatkit_host.config.loader import LoadedConfig, load_config
from chatkit_host.config.models import AgentConfig, json_schema
from chatkit_host.errors import ConfigError

MINIMAL = """\
agents:
  triage:
    instructions: Be brief.
"""


def write(root: Path, yaml_text: str, files: Mapping[str, str] | None = None) -> Path:
    """Write chatkit.yaml (dedented) and any other files into `root`; return the YAML's path."""
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    path = root / "chatkit.yaml"
    path.write_text(dedent(yaml_text))
    return path


def load(root: Path, yaml_text: str, environ: Mapping[str, str] | None = None,
         files: Mapping[str, str] | None = None) -> LoadedConfig:
    return load_config(write(root, yaml_text, files), environ={} if environ is None else environ)


def problems(root: Path, yaml_text: str, environ: Mapping[str, str] | None = None,
             files: Mapping[str, str] | None = None) -> list[str]:
    """Every rendered problem loading the YAML raises, paths relative to `root`."""
    with pytest.raises(ConfigError) as caught:
        load(root, yaml_text, environ, files)
    return [problem.render(relative_to=root) for problem in caught.value.problems]


# --- A valid configuration ------------------------------------------------------------------------

VALID = """\
version: 1
auth:
  mode: bearer
  tokens: {alice: tok-a, bob: tok-b}
models:
  default: offline/demo
  providers:
    offline:
      scripted: scripts/demo.yaml
      record: out/calls.jsonl
agents:
  triage:
    instructions: prompts/triage.md
    handoffs: [billing]
    tools: [lookup]
  billing:
    instructions: You are billing for {{ vars.company }}.
    model: openai/gpt-4.1
entry: triage
titles: {agent: billing}
tools:
  lookup:
    python: ./tools.py:lookup
vars: {company: Acme}
"""
VALID_FILES = {"prompts/triage.md": "You are triage for {{ vars.company }}.\n",
               "scripts/demo.yaml": "replies: []\n"}


def test_valid_config_comes_back_with_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    write(project, VALID, VALID_FILES)
    monkeypatch.chdir(project)

    loaded = load_config(Path("chatkit.yaml"), environ={})

    assert loaded.path == project / "chatkit.yaml"
    assert loaded.base_dir == project
    assert loaded.config.agents["triage"].instructions == str(project / "prompts" / "triage.md")
    assert loaded.config.agents["billing"].instructions == "You are billing for {{ vars.company }}."
    provider = loaded.config.models.providers["offline"]
    assert provider.scripted == str(project / "scripts" / "demo.yaml")
    assert provider.record == str(project / "out" / "calls.jsonl")
    assert loaded.config.tools["lookup"].python == "./tools.py:lookup"  # resolved by the runtime
    assert loaded.files == {project / "chatkit.yaml", project / "prompts" / "triage.md",
                            project / "scripts" / "demo.yaml"}
    assert loaded.instructions == {"triage": "You are triage for {{ vars.company }}.\n",
                                   "billing": "You are billing for {{ vars.company }}."}
    assert loaded.auth_tokens == {"tok-a": "alice", "tok-b": "bob"}
    assert loaded.config.entry_agent == "triage"


def test_problem_locates_later_errors_at_their_key(tmp_path: Path) -> None:
    loaded = load(tmp_path, VALID, files=VALID_FILES)

    assert loaded.problem(("tools", "lookup", "python"), "no module named 'x'", "check it").render(
        relative_to=tmp_path) == "chatkit.yaml:23:13: tools.lookup.python: no module named 'x' (hint: check it)"
    assert loaded.problem(("agents", "triage", "handoffs", 0), "cannot hand off").render(
        relative_to=tmp_path) == "chatkit.yaml:14:16: agents.triage.handoffs[0]: cannot hand off"
    # A key that is not written (a default) points at its nearest written ancestor.
    assert loaded.problem(("agents", "triage", "model"), "no such model").render(
        relative_to=tmp_path) == "chatkit.yaml:12:3: agents.triage.model: no such model"


def test_tokens_as_a_string(tmp_path: Path) -> None:
    loaded = load(tmp_path, """\
        auth:
          mode: bearer
          tokens: ${CHATKIT_TOKENS}
        agents:
          triage: {instructions: Be brief.}
        """, environ={"CHATKIT_TOKENS": "alice=t=1, bob=t2\n carol=t3,,"})

    assert loaded.auth_tokens == {"t=1": "alice", "t2": "bob", "t3": "carol"}


def test_yaml_merge_keys_and_keys_as_written(tmp_path: Path) -> None:
    loaded = load(tmp_path, """\
        agents:
          triage: &base
            instructions: Be brief.
            tools: []
          billing:
            <<: *base
            handoff_description: Money.
        vars: {on: 1, 2: two, "null": x}
        """)

    assert loaded.config.agents["billing"].instructions == "Be brief."
    assert loaded.config.agents["billing"].handoff_description == "Money."
    assert loaded.config.vars == {"on": 1, "2": "two", "null": "x"}


# --- YAML itself ----------------------------------------------------------------------------------

def test_yaml_syntax_error(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        agents:
          triage:
            instructions: [Be brief.
          billing: {}
        """) == ["chatkit.yaml:4:10: invalid YAML: expected ',' or ']', but got ':' "
                 "(while parsing a flow sequence on line 3)"]


def test_yaml_tab_gets_a_hint(tmp_path: Path) -> None:
    assert problems(tmp_path, "agents:\n\ttriage: {}\n") == [
        "chatkit.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token "
        "(hint: indent with spaces; YAML does not allow tabs)"]


def test_two_documents_are_an_error(tmp_path: Path) -> None:
    assert problems(tmp_path, MINIMAL + "---\nagents: {}\n") == [
        "chatkit.yaml:4:1: invalid YAML: but found another document "
        "(expected a single document in the stream on line 1)"]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    assert problems(tmp_path, text) == [
        "chatkit.yaml: the file is empty (hint: `chatkit-host init` makes a working one)"]


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, "# agents\n- triage\n- billing\n") == [
        "chatkit.yaml:2:1: the top level must be a mapping of settings (agents:, models:, …), got a list "
        "(hint: `chatkit-host init` makes a working one)"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "chatkit.yaml", environ={})
    assert caught.value.render(relative_to=tmp_path) == (
        "chatkit.yaml: configuration file not found (hint: `chatkit-host init` makes a working one)")


def test_duplicate_keys(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        agents:
          triage:
            instructions: Be brief.
            instructions: Be kind.
        server: {port: 80, port: 81}
        """) == [
        "chatkit.yaml:4:5: agents.triage.instructions: duplicate key 'instructions' "
        "(hint: it is also set on line 3; keep one of them)",
        "chatkit.yaml:5:20: server.port: duplicate key 'port' "
        "(hint: it is also set on line 5; keep one of them)",
    ]


def test_tags_are_reported_once(tmp_path: Path) -> None:
    assert problems(tmp_path, MINIMAL + "entry: !agent triage\nhistory: {max_items: !!int many}\n") == [
        "chatkit.yaml:4:8: entry: could not determine a constructor for the tag '!agent' "
        "(hint: remove the tag; plain YAML values are enough)",
        "chatkit.yaml:5:22: history.max_items: the value does not fit its tag !!int",
    ]


def test_keys_must_be_names_and_aliases_must_not_loop(tmp_path: Path) -> None:
    assert problems(tmp_path, MINIMAL + "vars: {[a]: 1, loop: &l [*l]}\n") == [
        "chatkit.yaml:4:8: vars: a key must be a plain name, not a list or mapping",
        "chatkit.yaml:4:22: vars.loop[0]: an alias refers to a node that contains it",
    ]


# --- Schema ---------------------------------------------------------------------------------------

def test_unknown_keys(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        agents:
          triage:
            instructions: Be brief.
            modle: gpt-4.1
        history: {newest: 10}
        extras: {}
        """) == [
        "chatkit.yaml:4:5: agents.triage.modle: unknown key 'modle' (hint: did you mean 'model'?)",
        "chatkit.yaml:5:11: history.newest: unknown key 'newest' (hint: allowed keys: max_items)",
        "chatkit.yaml:6:1: extras: unknown key 'extras' (hint: allowed keys: "
        + ", ".join(json_schema()["properties"]) + ")",
    ]


def test_missing_required_keys_are_reported_at_the_parent(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        server: {port: 8000}
        """) == ["chatkit.yaml:1:1: 'agents' is required"]
    assert problems(tmp_path, """\
        agents:
          triage:
            model: gpt-4.1
        tools:
          lookup: {description: Finds orders.}
        """) == [
        "chatkit.yaml:2:3: agents.triage: an agent needs `instructions`, or `python` naming an Agent "
        "in your code",
        "chatkit.yaml:5:3: tools.lookup: a tool has exactly one of python, http, client, hosted, mcp, "
        "agent, widget, form, workflow (got none)",
    ]


def test_types_enums_bounds_and_formats(tmp_path: Path) -> None:
    assert problems(tmp_path, MINIMAL + dedent("""\
        version: 2
        server:
          port: 70000
          workers: 0
          path: chatkit
          cors: http://localhost:5173
          public_without_auth: yes please
        auth: {mode: basic, user: ""}
        history: {max_items: many}
        titles: {agent: triage, max_length: 3}
        """)) == [
        "chatkit.yaml:4:10: version: must be 1",
        "chatkit.yaml:6:9: server.port: must be at most 65535",
        "chatkit.yaml:7:12: server.workers: must be at least 1",
        "chatkit.yaml:8:9: server.path: does not match the expected format (the pattern ^/[\\w./-]*$)",
        "chatkit.yaml:9:9: server.cors: expected a list, got a string",
        "chatkit.yaml:10:24: server.public_without_auth: expected true or false, got a string",
        "chatkit.yaml:11:14: auth.mode: must be one of: none, bearer, jwt",
        "chatkit.yaml:11:27: auth.user: must not be empty",
        "chatkit.yaml:12:22: history.max_items: expected an integer, got a string",
        "chatkit.yaml:13:37: titles.max_length: must be at least 8",
    ]


def test_an_empty_agents_section(tmp_path: Path) -> None:
    assert problems(tmp_path, "agents: {}\n") == ["chatkit.yaml:1:1: agents: must not be empty"]


def test_alternatives_explain_the_one_meant(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        agents:
          triage:
            instructions: Be brief.
            model: 4
            model_settings: {temprature: 0.5, top_p: 2}
          billing:
            instructions: Be exact.
            model_settings: low
        server: {max_body: -1}
        titles: sometimes
        """) == [
        "chatkit.yaml:4:12: agents.triage.model: expected a string, got an integer "
        "(hint: quote it to make it a string)",
        "chatkit.yaml:5:22: agents.triage.model_settings.temprature: unknown key 'temprature' "
        "(hint: did you mean 'temperature'?)",
        "chatkit.yaml:5:46: agents.triage.model_settings.top_p: must be at most 1",
        "chatkit.yaml:8:21: agents.billing.model_settings: expected a mapping, got a string",
        "chatkit.yaml:9:20: server.max_body: must be at least 0 (hint: it may also be a string)",
        "chatkit.yaml:10:9: titles: must be one of: first_message, none (hint: it may also be a mapping)",
    ]
    assert problems(tmp_path, MINIMAL + "titles: 5\n") == [
        "chatkit.yaml:4:9: titles: expected one of: first_message, none or a mapping, got an integer"]
    assert problems(tmp_path, MINIMAL + "    model_settings: {reasoning_effort: 5, parallel_tool_calls: sure}\n") == [
        "chatkit.yaml:4:40: agents.triage.model_settings.reasoning_effort: expected one of: minimal, low, "
        "medium, high, got an integer",
        "chatkit.yaml:4:64: agents.triage.model_settings.parallel_tool_calls: expected true or false, "
        "got a string",
    ]


SIZE_PROBLEM = ("must be a size such as 4MB, 512KiB or a number of bytes "
                "(hint: KB, MB, GB are powers of 1000; KiB, MiB, GiB powers of 1024)")


@pytest.mark.parametrize(("written", "size"), [
    ("64KB", 64_000), ("64KiB", 65_536), ("1.5 MB", 1_500_000), ("2mib", 2_097_152),
    ("1GB", 10**9), ("1GiB", 2**30), ("512", 512), (512, 512), ("10B", 10),
])
def test_sizes_in_decimal_and_binary_units(tmp_path: Path, written: object, size: int) -> None:
    loaded = load(tmp_path, MINIMAL + f"server: {{max_body: {written}}}\n")
    assert loaded.config.server.max_body == size


@pytest.mark.parametrize("written", ["20M", "20 MBs", "20MB of it", "-1", "1TB", "MB"])
def test_sizes_that_are_not_sizes(tmp_path: Path, written: str) -> None:
    assert problems(tmp_path, MINIMAL + f"server: {{max_body: '{written}'}}\n") == [
        "chatkit.yaml:4:20: server.max_body: " + SIZE_PROBLEM]


def test_model_validators_and_sizes(tmp_path: Path) -> None:
    assert problems(tmp_path, MINIMAL + dedent("""\
        server: {max_body: 4 parsecs}
        auth: {mode: bearer}
        models:
          providers:
            local: {scripted: demo.yaml, base_url: "http://127.0.0.1:11434/v1"}
            remote: {record: calls.jsonl}
        """)) == [
        "chatkit.yaml:4:20: server.max_body: " + SIZE_PROBLEM,
        "chatkit.yaml:5:1: auth: auth.tokens is required when auth.mode is bearer",
        "chatkit.yaml:8:5: models.providers.local: a scripted provider takes no base_url or api_key",
        "chatkit.yaml:9:5: models.providers.remote: record works only with a scripted provider",
    ]


# --- Semantic checks ------------------------------------------------------------------------------

def test_unknown_agents_and_tools(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        agents:
          triage:
            instructions: Be brief.
            handoffs: [bilin, triage, zebra]
            tools: [lokup]
          billing:
            instructions: Be exact.
            tools: [refund]
        entry: triag
        titles: {agent: writer}
        tools:
          lookup: {python: "shop.orders:lookup"}
        """) == [
        "chatkit.yaml:4:16: agents.triage.handoffs[0]: unknown agent 'bilin' (hint: did you mean 'billing'?)",
        "chatkit.yaml:4:23: agents.triage.handoffs[1]: an agent cannot hand off to itself",
        "chatkit.yaml:4:31: agents.triage.handoffs[2]: unknown agent 'zebra' (hint: other agents: billing)",
        "chatkit.yaml:5:13: agents.triage.tools[0]: unknown tool 'lokup' (hint: did you mean 'lookup'?)",
        "chatkit.yaml:8:13: agents.billing.tools[0]: unknown tool 'refund' (hint: declared tools: lookup)",
        "chatkit.yaml:9:8: entry: unknown agent 'triag' (hint: did you mean 'triage'?)",
        "chatkit.yaml:10:17: titles.agent: unknown agent 'writer' (hint: known agents: triage, billing)",
    ]


def test_tool_without_any_declared(tmp_path: Path) -> None:
    assert problems(tmp_path, MINIMAL + "    tools: [search]\n") == [
        "chatkit.yaml:4:13: agents.triage.tools[0]: unknown tool 'search' (hint: no tools are declared)"]


def test_model_references(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        models:
          default: olama/llama3
          providers:
            ollama: {base_url: "http://127.0.0.1:11434/v1"}
        agents:
          triage: {instructions: Be brief., model: openai/gpt-4.1}
          billing: {instructions: Be exact., model: ollama/}
          support: {instructions: Be kind., model: mistral/large}
          writer: {instructions: Be short., model: ""}
        """) == [
        "chatkit.yaml:2:12: models.default: unknown provider 'olama' (hint: did you mean 'ollama'?)",
        "chatkit.yaml:7:45: agents.billing.model: a model reference is NAME or PROVIDER/NAME, with no empty part",
        "chatkit.yaml:8:44: agents.support.model: unknown provider 'mistral' "
        "(hint: known providers: openai, ollama)",
        "chatkit.yaml:9:44: agents.writer.model: a model reference is NAME or PROVIDER/NAME, with no empty part",
    ]


def test_instruction_files(tmp_path: Path) -> None:
    files = {"agents/billing.md": "Hello {{ user }}.\nToday is {{ now | }}.\nBe kind.\n",
             "agents/support.txt": "Fine {{ user }}."}
    assert problems(tmp_path, """\
        agents:
          triage:
            instructions: agents/triage.md
          billing:
            instructions: agents/billing.md
          support:
            instructions: agents/support.txt
          writer:
            instructions: "Write {{ thread.title"
        """, files=files) == [
        "chatkit.yaml:3:19: agents.triage.instructions: instructions file agents/triage.md not found",
        "chatkit.yaml:9:19: agents.writer.instructions: template syntax error on line 1 of the instructions: "
        "unexpected end of template, expected 'end of print statement'.",
        "agents/billing.md:2: agents.billing.instructions: template syntax error: expected token 'name', "
        "got 'end of print statement'",
    ]


def test_scripted_files_must_exist(tmp_path: Path) -> None:
    assert problems(tmp_path, MINIMAL + dedent("""\
        models:
          providers:
            offline: {scripted: scripts/missing.yaml}
        """)) == ["chatkit.yaml:6:25: models.providers.offline.scripted: scripted file scripts/missing.yaml not found"]


def test_tool_import_paths(tmp_path: Path) -> None:
    assert problems(tmp_path, MINIMAL + dedent("""\
        tools:
          module: {python: "shop.orders:lookup"}
          method: {python: "shop.orders:Orders.lookup"}
          local: {python: "./tools.py:lookup"}
          nested: {python: "lib/tools.py:lookup"}
          bare: {python: "tools.py:lookup"}
          nocolon: {python: shop.orders}
          folder: {python: "lib/tools:lookup"}
          spaced: {python: "shop orders:lookup"}
          badname: {python: "shop.orders:look-up"}
        """)) == [
        "chatkit.yaml:10:21: tools.nocolon.python: is not an import path of a function "
        "(hint: name the function after a colon: package.module:function or ./file.py:function)",
        "chatkit.yaml:11:20: tools.folder.python: is not an import path of a function "
        "(hint: a file reference names a .py file: ./file.py:function)",
        "chatkit.yaml:12:20: tools.spaced.python: is not an import path of a function "
        "(hint: write package.module:function or ./file.py:function)",
        "chatkit.yaml:13:21: tools.badname.python: is not an import path of a function "
        "(hint: write package.module:function or ./file.py:function)",
    ]


def test_token_string_problems(tmp_path: Path) -> None:
    environ = {"CHATKIT_TOKENS": "alice=hunter22 bob=hunter22,carol= =orphan dave"}
    rendered = problems(tmp_path, """\
        auth:
          mode: bearer
          tokens: ${CHATKIT_TOKENS}
        agents:
          triage: {instructions: Be brief.}
        """, environ)
    assert rendered == [
        "chatkit.yaml:3:11: auth.tokens: users 'alice' and 'bob' have the same token "
        "(hint: give every user a token of their own)",
        "chatkit.yaml:3:11: auth.tokens: entry 3 has an empty token",
        "chatkit.yaml:3:11: auth.tokens: entry 4 has an empty user",
        "chatkit.yaml:3:11: auth.tokens: entry 5 is not user=token "
        "(hint: separate entries with commas or spaces: alice=TOKEN1,bob=TOKEN2)",
    ]
    assert not any("hunter22" in line or "orphan" in line for line in rendered)


def test_token_map_problems(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        auth:
          mode: bearer
          tokens:
            alice: same-token
            bob: same-token
            carol: ""
        agents:
          triage: {instructions: Be brief.}
        """) == [
        "chatkit.yaml:5:10: auth.tokens.bob: users 'alice' and 'bob' have the same token "
        "(hint: give every user a token of their own)",
        "chatkit.yaml:6:12: auth.tokens.carol: user 'carol' has an empty token",
    ]


def test_bearer_tokens_with_no_entries(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        auth: {mode: bearer, tokens: "${CHATKIT_TOKENS}"}
        agents:
          triage: {instructions: Be brief.}
        """, {"CHATKIT_TOKENS": " , "}) == ["chatkit.yaml:1:30: auth.tokens: has no user=token entries"]


def test_several_mistakes_are_all_reported(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        models:
          default: gpt-4.1-mini
          providers:
            offline: {scripted: demo.yaml}
        agents:
          triage:
            instructions: agents/triage.md
            handoffs: [bilin]
            model: offlin/demo
          billing:
            instructions: Be exact.
            tools: [lookup]
        tools:
          lookup: {python: "shop.orders"}
        entry: triage
        """) == [
        "chatkit.yaml:4:25: models.providers.offline.scripted: scripted file demo.yaml not found",
        "chatkit.yaml:7:19: agents.triage.instructions: instructions file agents/triage.md not found",
        "chatkit.yaml:8:16: agents.triage.handoffs[0]: unknown agent 'bilin' (hint: did you mean 'billing'?)",
        "chatkit.yaml:9:12: agents.triage.model: unknown provider 'offlin' (hint: did you mean 'offline'?)",
        "chatkit.yaml:14:20: tools.lookup.python: is not an import path of a function "
        "(hint: name the function after a colon: package.module:function or ./file.py:function)",
    ]


def test_structural_and_schema_mistakes_are_reported_together(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        agents:
          triage:
            instructions: Be brief.
            instructions: Be kind.
            temperature: 0.2
        server:
          port: ${PORT}
          workers: lots
        """) == [
        "chatkit.yaml:4:5: agents.triage.instructions: duplicate key 'instructions' "
        "(hint: it is also set on line 3; keep one of them)",
        "chatkit.yaml:5:5: agents.triage.temperature: unknown key 'temperature' "
        "(hint: allowed keys: " + ", ".join(AgentConfig.model_fields) + ")",
        "chatkit.yaml:7:9: server.port: environment variable PORT is not set "
        "(hint: set it, or give a default with ${PORT:-...})",
        "chatkit.yaml:8:12: server.workers: expected an integer, got a string",
    ]


def test_schema_and_check_mistakes_are_reported_together(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        server: {port: eighty}
        auth: {mode: bearer}
        agents:
          triage:
            instructions: agents/missing.md
            handoffs: [bilin, 5]
            model: [gpt]
          billing: {instructions: Be exact.}
        """) == [
        "chatkit.yaml:1:16: server.port: expected an integer, got a string",
        "chatkit.yaml:2:1: auth: auth.tokens is required when auth.mode is bearer",
        "chatkit.yaml:5:19: agents.triage.instructions: instructions file agents/missing.md not found",
        "chatkit.yaml:6:23: agents.triage.handoffs[1]: expected a string, got an integer "
        "(hint: quote it to make it a string)",
        "chatkit.yaml:7:5: agents.triage.model: expected a string, got a list",
    ]


def test_checks_that_would_mislead_are_skipped(tmp_path: Path) -> None:
    # billing is broken, so a handoff to it must not be called an unknown agent; triage's own
    # mistakes are still reported.
    assert problems(tmp_path, """\
        agents:
          triage: {instructions: agents/missing.md, handoffs: [billing]}
          billing: Be exact.
        """) == [
        "chatkit.yaml:2:26: agents.triage.instructions: instructions file agents/missing.md not found",
        "chatkit.yaml:3:12: agents.billing: expected a mapping, got a string",
    ]


# --- Environment variables ------------------------------------------------------------------------

def test_environment_values_are_filled_and_retyped(tmp_path: Path) -> None:
    loaded = load(tmp_path, """\
        server:
          host: ${HOST}
          port: ${PORT:-8000}
          workers: ${WORKERS:-2}
          public_without_auth: ${PUBLIC:-false}
          path: /${PREFIX:-chat}/kit
          cors: ["${ORIGIN}", "https://$${literal}", "$$ and $HOME stay"]
        auth:
          user: "${USER_ID}"
        models:
          providers:
            local: {base_url: "${LOCAL_URL:-http://127.0.0.1:11434/v1}", api_key: "${KEY}"}
        agents:
          triage: {instructions: "Hi ${NAME:-there}, ${EMPTY:-default}${EMPTY}."}
        vars:
          ${NOT_A_KEY}: kept
        """, environ={"HOST": "0.0.0.0", "WORKERS": "4", "PUBLIC": "true", "ORIGIN": "http://localhost:5173",
                      "USER_ID": "007", "KEY": "12345", "EMPTY": "", "PORT": ""})
    config = loaded.config

    assert config.server.host == "0.0.0.0"
    assert config.server.port == 8000  # unset or empty: the default, typed as YAML types it
    assert config.server.workers == 4
    assert config.server.public_without_auth is True
    assert config.server.path == "/chat/kit"
    assert config.server.cors == ["http://localhost:5173", "https://${literal}", "$$ and $HOME stay"]
    assert config.auth.user == "007"  # quoted: stays a string
    assert config.models.providers["local"].api_key == "12345"
    assert config.models.providers["local"].base_url == "http://127.0.0.1:11434/v1"
    assert loaded.instructions["triage"] == "Hi there, default."
    assert config.vars == {"${NOT_A_KEY}": "kept"}


def test_references_inside_flow_mappings(tmp_path: Path) -> None:
    # `{` `}` `,` `:` inside a reference used to end the flow mapping: a YAML error (#18).
    text = MINIMAL + dedent("""\
        server: { port: ${PORT:-8000}, host: ${HOST:-127.0.0.1}, cors: [${ORIGIN:-http://a.test}] }
        vars: { greeting: "${GREETING:-hi, {there}", list: ${LIST:-[a, b]} }
        """)
    loaded = load(tmp_path, text, {"HOST": "0.0.0.0"})
    assert (loaded.config.server.port, loaded.config.server.host) == (8000, "0.0.0.0")
    assert loaded.config.server.cors == ["http://a.test"]
    assert loaded.config.vars == {"greeting": "hi, {there", "list": "[a, b]"}
    assert load(tmp_path, text, {"PORT": "9000"}).config.server.port == 9000
    # Lines and columns are the file's own.
    assert problems(tmp_path, MINIMAL + "server: { port: ${PORT}, workers: lots }\n") == [
        "chatkit.yaml:4:17: server.port: environment variable PORT is not set "
        "(hint: set it, or give a default with ${PORT:-...})",
        "chatkit.yaml:4:35: server.workers: expected an integer, got a string",
    ]


def test_empty_default_is_null(tmp_path: Path) -> None:
    loaded = load(tmp_path, MINIMAL + "    model: ${MODEL:-}\n")
    assert loaded.config.agents["triage"].model is None


def test_environment_problems(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        auth:
          mode: bearer
          tokens: ${CHATKIT_TOKENS}
        agents:
          triage: {instructions: "Costs ${ 5 }, says ${WHO}"}
        """) == [
        "chatkit.yaml:3:11: auth.tokens: environment variable CHATKIT_TOKENS is not set "
        "(hint: set it, or give a default with ${CHATKIT_TOKENS:-...})",
        "chatkit.yaml:5:26: agents.triage.instructions: environment variable WHO is not set "
        "(hint: set it, or give a default with ${WHO:-...})",
        "chatkit.yaml:5:26: agents.triage.instructions: malformed environment reference: "
        "use ${NAME} or ${NAME:-default} (hint: write $${ for a literal ${)",
    ]


def test_environment_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATKIT_TEST_PORT", "9123")
    path = write(tmp_path, MINIMAL + "server:\n  port: ${CHATKIT_TEST_PORT}\n")
    assert load_config(path).config.server.port == 9123


@pytest.mark.parametrize(("text", "expected"), [
    ("${A}", "1"), ("x${A}y${B:-b}", "x1yb"), ("$${A}", "${A}"), ("$$${A}", "$${A}"),
    ("${B:-a:-b}", "a:-b"), ("$A ${}", "$A ${}"), ("price: $5", "price: $5"),
])
def test_expand(text: str, expected: str) -> None:
    assert expand(text, {"A": "1"}).text == expected


def test_expand_reports_what_it_did() -> None:
    result = expand("${A}${B}${B}${C:-c}", {"A": "a"})
    # An unset variable stays as written: its one problem is reported, not a knock-on type error.
    assert (result.text, result.missing, result.whole, result.used) == (
        "a${B}${B}c", ("B",), False, (("A", "a"),))
    assert expand("${A:-1}", {}).whole
    assert expand("${", {}).malformed


@pytest.mark.parametrize(("text", "expected"), [
    ("8000", 8000), ("0x10", 16), ("1.5", 1.5), ("true", True), ("off", False), ("", None), ("~", None),
    ("null", None), ("abc", "abc"), ("[a, b]", "[a, b]"), ("2024-01-01", "2024-01-01"), ("a: b", "a: b"),
])
def test_retype(text: str, expected: object) -> None:
    assert retype(text) == expected


# --- Secrets --------------------------------------------------------------------------------------

SECRET = "sk-live-S3CRET-0123456789"


def test_schema_messages_never_echo_values(tmp_path: Path) -> None:
    rendered = problems(tmp_path, """\
        version: ${S}
        server:
          host: ["${S}"]
          port: ${S}
          path: ${S}
          max_body: ${S}
          cors: ${S}
        auth: {mode: "${S}", tokens: ["${S}"]}
        store: {url: {key: "${S}"}}
        models:
          providers:
            p: {api_key: "${S}", scripted: "${S}", base_url: ["${S}"]}
        agents:
          triage:
            instructions: ${S}
            model_settings: {reasoning_effort: "${S}", temperature: "${S}"}
        titles: ${S}
        history: ${S}
        """, {"S": SECRET})

    assert len(rendered) == 14, rendered
    assert not any(SECRET in line for line in rendered), rendered


def test_model_errors_never_echo_values(tmp_path: Path) -> None:
    rendered = problems(tmp_path, MINIMAL + dedent("""\
        server: {max_body: "${S}"}
        """), {"S": "12 " + SECRET})
    assert rendered == ["chatkit.yaml:4:20: server.max_body: " + SIZE_PROBLEM]


def test_checks_never_echo_values(tmp_path: Path) -> None:
    rendered = problems(tmp_path, """\
        auth:
          mode: bearer
          tokens: "${S}"
        models:
          default: ${S}/gpt
        agents:
          triage:
            instructions: Be brief.
            handoffs: [triage, "${S}"]
            tools: ["${S}"]
        entry: ${S}
        tools:
          t: {python: "${S}"}
        """, {"S": SECRET})

    assert rendered == [
        "chatkit.yaml:3:11: auth.tokens: entry 1 is not user=token "
        "(hint: separate entries with commas or spaces: alice=TOKEN1,bob=TOKEN2)",
        "chatkit.yaml:5:12: models.default: unknown provider '${S}' (hint: known providers: openai)",
        "chatkit.yaml:9:16: agents.triage.handoffs[0]: an agent cannot hand off to itself",
        "chatkit.yaml:9:24: agents.triage.handoffs[1]: unknown agent '${S}' (hint: no other agents are declared)",
        "chatkit.yaml:10:13: agents.triage.tools[0]: unknown tool '${S}' (hint: declared tools: t)",
        "chatkit.yaml:11:8: entry: unknown agent '${S}' (hint: known agents: triage)",
        "chatkit.yaml:13:15: tools.t.python: is not an import path of a function "
        "(hint: name the function after a colon: package.module:function or ./file.py:function)",
    ]
