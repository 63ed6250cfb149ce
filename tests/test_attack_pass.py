"""The attack pass (tests/attack_pass.py), small: four real `chatkit-host serve` processes on
loopback, every category once, and its invariants — no answer >= 500 (but the documented 501
not_supported), no traceback in any server log, no refused request that changed a row, no success
that should have been refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from attack_pass import report, run

pytestmark = pytest.mark.serial


def test_a_small_attack_pass_finds_nothing(tmp_path: Path) -> None:
    tallies = run(tmp_path, examples=60, seconds=60)
    summary = report(tallies)
    assert {name: (t.server_errors, t.tracebacks, t.rows_changed, t.wrongly_allowed)
            for name, t in tallies.items()} == {name: (0, 0, [], []) for name in tallies}, summary
    # Every category ran, and refused something (the set-up's controls excepted).
    assert len(tallies) == 11, summary
    for name, tally in tallies.items():
        refused = sum(count for status, count in tally.statuses.items() if status >= 400)
        assert tally.sent > 0 and (refused > 0 or name.startswith("set-up")), summary
