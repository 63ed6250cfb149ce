"""The results table (markdown, host / baseline per figure) and the machine it ran on."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Row:
    section: str
    label: str
    host: float
    baseline: float
    unit: str
    higher_is_better: bool
    ratio: bool


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, section: str, label: str, host: float, baseline: float, unit: str,
            higher_is_better: bool, ratio: bool = True) -> None:
        self.rows.append(Row(section, label, host, baseline, unit, higher_is_better, ratio))

    def check(self, target: str, holds: bool, detail: str) -> None:
        self.checks.append((target, holds, detail))

    def markdown(self) -> str:
        lines = ["| workload | figure | host | baseline | host vs baseline |",
                 "|---|---|---:|---:|---:|"]
        previous = None
        for row in self.rows:
            section = row.section if row.section != previous else ""
            previous = row.section
            lines.append(f"| {section} | {row.label} | {_value(row.host, row.unit)} | "
                         f"{_value(row.baseline, row.unit)} | {_versus(row)} |")
        return "\n".join(lines)

    def targets(self) -> str:
        return "\n".join(f"{'✓' if holds else '✗'} {target}: {detail}"
                         for target, holds, detail in self.checks)


def machine() -> str:
    """`nproc`, CPU model and Python version, for the table's caption."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPU(s) ({model}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def _value(value: float, unit: str) -> str:
    if unit == "×":
        return f"{value:.2f}×"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip() if unit not in ("/s",) else f"{text}/s"


def _versus(row: Row) -> str:
    if not row.ratio or row.baseline == 0:
        return ""
    factor = row.host / row.baseline
    return f"{factor:.2f}×"
