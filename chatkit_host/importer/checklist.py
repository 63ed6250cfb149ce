"""The checklist: everything an import did not translate, each at its source line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Untranslated:
    """One thing the import left in the module, and why."""

    line: int
    """1-based line in the module."""
    subject: str
    """What it is: `agent research_agent: tool web_search_preview (WebSearchTool)`."""
    reason: str
    """Why it was not translated and where it lives now."""

    def render(self, file_name: str) -> str:
        """`exported.py:42: runner function run_workflow(): not translated — …`"""
        return f"{file_name}:{self.line}: {self.subject}: {self.reason}"


def render_checklist(items: list[Untranslated], file_name: str) -> list[str]:
    """The checklist's lines, in source order."""
    return [item.render(file_name) for item in sorted(items, key=lambda item: item.line)]
