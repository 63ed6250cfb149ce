"""Docs that match the code: the generated reference is current and every key is described."""

from __future__ import annotations

from typing import Any

from chatkit_host.config.models import json_schema
from chatkit_host.config.reference import markdown
from projects import REPO


def test_the_configuration_reference_is_current() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == markdown(), (
        "docs/configuration.md is stale: run `chatkit-host schema --markdown > docs/configuration.md`"
    )


def test_every_key_has_a_description() -> None:
    schema = json_schema()
    undocumented = [
        f"{model}.{name}"
        for model, definition in _definitions(schema)
        for name, prop in definition.get("properties", {}).items()
        if not (prop.get("description") or _target(prop, schema).get("description"))
    ]
    assert undocumented == []


def test_the_readme_names_every_top_level_section() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [key for key in json_schema()["properties"] if f"{key}:" not in readme]
    assert missing == [], f"README's example or text never shows: {missing}"


def _definitions(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("chatkit.yaml", schema), *schema.get("$defs", {}).items()]


def _target(prop: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    # A section's description may live on the model it refers to.
    ref = prop.get("$ref", "")
    return schema["$defs"].get(ref.removeprefix("#/$defs/"), {}) if ref else {}


def test_the_readme_example_is_a_valid_configuration() -> None:
    import jsonschema
    import yaml

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Your backend is a folder"):]
    block = section[section.index("```yaml") + len("```yaml"):]
    example = yaml.safe_load(block[: block.index("```")])
    errors = sorted(jsonschema.Draft202012Validator(json_schema()).iter_errors(example), key=str)
    assert [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors] == []
