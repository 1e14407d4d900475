"""Tiny benchmark files in each supported format, written to ``tmp_path``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from switchtower.bench.workload import ModelOutcome, WorkloadItem
from switchtower.types import Deadline

RB_MODELS = ("gpt-4-1106-preview", "gpt-3.5-turbo-1106", "mistralai/mistral-7b-chat")


def write_routerbench(path: Path, rows: list[dict[str, object]]) -> Path:
    """rows: {sample_id, prompt, eval_name, q: {model: q or ''}, cost: {model: c}}."""
    header = ["", "sample_id", "prompt", "eval_name", *RB_MODELS]
    header += [f"{m}|model_response" for m in RB_MODELS]
    header += [f"{m}|total_cost" for m in RB_MODELS]
    header += ["oracle_model_to_route_to"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for n, r in enumerate(rows):
            q = r["q"]
            cost = r["cost"]
            assert isinstance(q, dict)
            assert isinstance(cost, dict)
            w.writerow(
                [
                    n,
                    r["sample_id"],
                    repr([r["prompt"]]),
                    r["eval_name"],
                    *(q[m] for m in RB_MODELS),
                    *(repr([f"answer by {m}"]) for m in RB_MODELS),
                    *(cost[m] for m in RB_MODELS),
                    RB_MODELS[-1],
                ]
            )
    return path


def write_routellm_csv(
    path: Path, rows: list[tuple[str, bool, bool]], *, responses: bool = True
) -> Path:
    """rows: (prompt, mixtral correct, gpt-4 correct)."""
    weak, strong = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
    header = ["prompt", weak, strong]
    if responses:
        header += [f"{weak}_response", f"{strong}_response"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for prompt, a, b in rows:
            row: list[object] = [prompt, a, b]
            if responses:
                row += ["weak answer " * 3, "strong answer " * 5]
            w.writerow(row)
    return path


def write_mt_bench(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    questions = [
        {"question_id": 1, "category": "writing", "turns": ["Write a poem.", "Make it rhyme."]},
        {"question_id": 2, "category": "math", "turns": ["What is 2+2?", "And 3+3?"]},
    ]
    (folder / "question.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in questions), "utf-8"
    )
    judgements = []
    for qid in (1, 2):
        for turn in (1, 2):
            for model, score in (("gpt-4-1106-preview", 9), ("mixtral-8x7b", 6 + turn)):
                judgements.append(
                    {
                        "question_id": qid,
                        "model": model,
                        "judge": ["gpt-4", "single-v1"],
                        "user_prompt": f"SECRET ANSWER OF {model} to {qid}",
                        "judgment": "Rating: [[x]]",
                        "score": score,
                        "turn": turn,
                        "tstamp": 0.0,
                    }
                )
    path = folder / "judgements.jsonl"
    path.write_text("".join(json.dumps(j) + "\n" for j in judgements), "utf-8")
    return path


@pytest.fixture
def rb_file(tmp_path: Path) -> Path:
    full = dict.fromkeys(RB_MODELS, 0.001)
    rows: list[dict[str, object]] = [
        {
            "sample_id": "arc.test.1",
            "prompt": "Which is a mammal?\nA) shark\nB) whale",
            "eval_name": "arc-challenge",
            "q": {RB_MODELS[0]: 1.0, RB_MODELS[1]: 1.0, RB_MODELS[2]: 0.0},
            "cost": {RB_MODELS[0]: 0.01, RB_MODELS[1]: 0.001, RB_MODELS[2]: 0.0002},
        },
        {
            "sample_id": "arc.test.2",
            "prompt": "Dropped: an empty quality cell",
            "eval_name": "arc-challenge",
            "q": {RB_MODELS[0]: "", RB_MODELS[1]: 1.0, RB_MODELS[2]: 1.0},
            "cost": full,
        },
        {
            "sample_id": "legal.1",
            "prompt": "Is this clause enforceable?",
            "eval_name": "Legal_QA",
            "q": {RB_MODELS[0]: 1.0, RB_MODELS[1]: 0.0, RB_MODELS[2]: 1.0},
            "cost": full,
        },
    ]
    return write_routerbench(tmp_path / "tiny_rb.csv", rows)


def toy_item(n: int, deadline: Deadline, strong: float, weak: float) -> WorkloadItem:
    """One item of a two-model toy set: GPT-4 ($0.04) and a free open model."""
    return WorkloadItem(
        id=f"x{n}",
        messages=({"role": "user", "content": f"q{n}"},),
        operation="op",
        deadline=deadline,
        outcomes={
            "gpt-4-1106-preview": ModelOutcome(strong, 1000, 100, cost_usd=0.04),
            "open-model": ModelOutcome(weak, 1000, 100, cost_usd=0.001),
        },
        dataset="toy",
    )
