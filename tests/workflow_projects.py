"""Workflow projects for tests: every agent answers from its own scripted model, so each reply says
which agent gave it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CLASSIFIER_SCRIPT = {"replies": [
    {"when": ["book", "flight"], "steps": [{"say": '{"category": "booking", "confidence": 0.94}'}]},
    {"when": ["invoice", "refund"], "steps": [{"say": '{"category": "billing", "confidence": 0.9}'}]},
    {"steps": [{"say": '{"category": "other", "confidence": 0.5}'}]},
]}


def say(text: str) -> dict[str, Any]:
    """A script whose every reply is `text`."""
    return {"replies": [{"steps": [{"say": text}]}], "stream": "whole"}


def write_workflow_project(root: Path, config: dict[str, Any], scripts: dict[str, dict[str, Any]]) -> Path:
    """chatkit.yaml from `config` plus one scripted provider per script (`NAME` → `NAME.yaml`,
    recording to `calls.jsonl`); agents reference them as `NAME/model`."""
    root.mkdir(parents=True, exist_ok=True)
    providers = {}
    for name, script in scripts.items():
        (root / f"{name}.yaml").write_text(yaml.safe_dump(script, sort_keys=False))
        providers[name] = {"scripted": f"{name}.yaml", "record": "calls.jsonl"}
    full = {"version": 1, "store": {"url": "sqlite:///data/chatkit.db"},
            "models": {"default": f"{next(iter(scripts))}/model", "providers": providers}, **config}
    path = root / "chatkit.yaml"
    path.write_text(yaml.safe_dump(full, sort_keys=False))
    return path


def classifier_config() -> dict[str, Any]:
    """A classifier with a structured output and three branches, each ending in its own agent."""
    return {
        "agents": {
            "classifier": {"instructions": "Classify the request.", "model": "classifier/model"},
            "booking": {"instructions": "You book trips.", "model": "booking/model"},
            "billing": {"instructions": "You handle invoices.", "model": "billing/model"},
            "concierge": {"instructions": "You help with anything else.", "model": "concierge/model"},
        },
        "entry": "support",
        "workflows": {"support": {"nodes": {
            "classify": {"agent": "classifier", "next": "route", "output": {
                "type": "object", "required": ["category"],
                "properties": {"category": {"enum": ["booking", "billing", "other"]},
                               "confidence": {"type": "number"}}}},
            "route": {"if": [
                {"when": 'outputs.classify.category == "booking"', "then": "book"},
                {"when": 'outputs.classify.category == "billing"', "then": "bill"},
            ], "else": "other"},
            "book": {"agent": "booking"},
            "bill": {"agent": "billing"},
            "other": {"agent": "concierge"},
        }}},
    }


CLASSIFIER_SCRIPTS = {
    "classifier": CLASSIFIER_SCRIPT,
    "booking": say("Booking agent: your flight is held."),
    "billing": say("Billing agent: the invoice is on its way."),
    "concierge": say("Concierge: happy to help."),
}


def review_loop_config(max_rounds: int = 3) -> dict[str, Any]:
    """A writer and a reviewer in a loop with a maximum; state counts the rounds, a transform and
    end messages say how it went."""
    return {
        "agents": {
            "writer": {"instructions": "Write a draft.", "model": "writer/model"},
            "reviewer": {"instructions": "Review the draft.", "model": "reviewer/model"},
        },
        "entry": "draft",
        "workflows": {"draft": {"state": {"rounds": 0}, "nodes": {
            "loop": {"while": "true", "max": max_rounds, "do": "write", "next": "gave_up"},
            "write": {"agent": "writer", "show": False, "next": "review"},
            "review": {"agent": "reviewer", "next": "count", "output": {
                "type": "object", "properties": {"verdict": {"enum": ["approve", "revise"]}}}},
            "count": {"set_state": {"rounds": "state.rounds + 1"}, "next": "decide"},
            "decide": {"if": [{"when": 'outputs.review.verdict == "approve"', "then": "publish"}],
                       "else": "loop"},
            "publish": {"transform": {"text": "outputs.write", "rounds": "state.rounds"}, "next": "done"},
            "done": {"end": {"message": "Approved after {{ outputs.publish.rounds }} round(s): "
                                        "{{ outputs.publish.text }}"}},
            "gave_up": {"end": {"message": "No approval after {{ state.rounds }} rounds."}},
        }}},
    }


REVIEW_SCRIPTS = {
    "writer": say("Draft: a short poem."),
    "reviewer": {"replies": [{"when": ["easy"], "steps": [{"say": '{"verdict": "approve"}'}]},
                             {"steps": [{"say": '{"verdict": "revise"}'}]}]},
}


def refund_config() -> dict[str, Any]:
    """A refund that needs the user's approval: approve pays, reject says so."""
    return {
        "agents": {
            "assessor": {"instructions": "Decide the refund.", "model": "assessor/model"},
            "payer": {"instructions": "Pay the refund.", "model": "payer/model"},
        },
        "entry": "refund",
        "workflows": {"refund": {"state": {"asked": 0}, "nodes": {
            "assess": {"agent": "assessor", "next": "count", "output": {
                "type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer"}}}},
            "count": {"set_state": {"asked": "state.asked + 1"}, "next": "confirm"},
            "confirm": {"approval": {"question": "Refund {{ outputs.assess.amount }} EUR?",
                                     "approve": "pay", "reject": "declined"}},
            "pay": {"agent": "payer"},
            "declined": {"end": {"message": "No refund then ({{ outputs.assess.amount }} EUR kept, "
                                            "asked {{ state.asked }} time(s))."}},
        }}},
    }


REFUND_SCRIPTS = {
    "assessor": say('{"amount": 40}'),
    "payer": say("Payer: 40 EUR are on their way."),
}
