"""`patron sla replay FILE.json`: the documented example through the real command, and bad
files refused with one sentence naming the field and exit status 2, never a traceback."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from patron.sla.calendar import FieldError
from patron.sla.replay import parse, run

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "sla" / "example.json"


def patron_sla_replay(path: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["PATRON_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "patron.cli", "sla", "replay", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def example() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return document


def test_the_documented_example_prints_every_clock(tmp_path: Path) -> None:
    result = patron_sla_replay(EXAMPLE, tmp_path)
    assert result.returncode == 0, result.stderr
    clocks = json.loads(result.stdout)
    assert [(c["metric"], c["cycle"], c["state"]) for c in clocks] == [
        ("first_reply", 1, "breached"),
        ("next_reply", 1, "breached"),
        ("periodic_update", 1, "achieved"),
        ("periodic_update", 2, "active"),
        ("resolution", 1, "active"),
        ("agent_work", 1, "active"),
        ("requester_wait", 1, "active"),
    ]
    first = clocks[0]
    # Created Wednesday 14:00 Berlin as normal (240 min); made high (60 min) at 15:10, so
    # the due recomputed from creation, 15:00 Berlin, had already passed.
    assert (first["target_minutes"], first["breached_at"]) == (60, "2026-12-23T14:00:00Z")
    assert first["counted_minutes"] == 200  # Wed 180, Christmas off, Monday 20
    resolution = clocks[4]
    assert resolution["counted_minutes"] == 620
    assert resolution["due_at"] == "2026-12-30T15:40:00Z"
    assert resolution["warnings_at"] == ["2026-12-30T14:40:00Z"]
    assert resolution["pauses"] == [["2026-12-28T08:20:00Z", "2026-12-28T10:00:00Z"]]


def test_the_command_prints_what_the_engine_computes(tmp_path: Path) -> None:
    result = patron_sla_replay(EXAMPLE, tmp_path)
    assert json.loads(result.stdout) == json.loads(run(EXAMPLE.read_text()))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("evaluate_at"), "evaluate_at"),
        (lambda d: d["calendar"].update(timezone="Europe/Atlantis"), "calendar.timezone"),
        (lambda d: d["calendar"]["hours"].update(friday=[["09:00", "5pm"]]), "calendar.hours"),
        (lambda d: d["policy"].update(first_response={}), "policy.first_response"),
        (lambda d: d["policy"]["resolution"].update(measure="hours"), "policy.resolution.measure"),
        (lambda d: d["policy"]["first_reply"]["targets"].update(high="1h"), "targets.high"),
        (lambda d: d["pause_rules"].update(resolution=["waiting"]), "pause_rules.resolution[0]"),
        (lambda d: d["timeline"][1].update(type="escalated"), "timeline[1].type"),
        (lambda d: d["timeline"][3].pop("status"), "timeline[3].status"),
        (lambda d: d["timeline"][2].update(at="yesterday"), "timeline[2].at"),
        (lambda d: d["timeline"].pop(0), "timeline"),
    ],
)
def test_a_bad_document_names_the_field(change: Any, field: str) -> None:
    document = copy.deepcopy(example())
    change(document)
    with pytest.raises(FieldError) as caught:
        parse(document)
    assert field in str(caught.value)


def test_a_bad_file_exits_2_with_the_field_on_stderr(tmp_path: Path) -> None:
    document = example()
    document["timeline"][1]["type"] = "escalated"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    result = patron_sla_replay(bad, tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "timeline[1].type" in result.stderr and "escalated" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [("{not json", "is not JSON"), ("[1, 2]", "must be a JSON object"), (None, "cannot read")],
)
def test_an_unreadable_file_exits_2(tmp_path: Path, content: str | None, words: str) -> None:
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    result = patron_sla_replay(path, tmp_path)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr
