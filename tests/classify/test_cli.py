from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from switchtower.cli import cli

TRAIN = {
    "food": ["order a pizza", "i want sushi for dinner", "get me a burger", "book a table"],
    "music": ["play some jazz", "next song please", "turn up the music", "play the album"],
    "weather": ["will it rain today", "weather tomorrow", "is it cold outside", "forecast"],
}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    train = tmp_path / "train.csv"
    with train.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for label, texts in TRAIN.items():
            for t in texts * 2:
                w.writerow([t, label])
    test = tmp_path / "test.jsonl"
    rows = [
        {"text": "play a song", "label": "music"},
        {"text": "pizza for dinner", "label": "food"},
        {"text": "rain tomorrow?", "label": "weather"},
        {"text": "what is the meaning of life", "label": "oos"},
    ]
    test.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return train, test


def test_eval_prints_and_writes_metrics(files: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = files
    out = tmp_path / "m.json"
    result = CliRunner().invoke(
        cli,
        ["classify", "eval", "--train", str(train), "--test", str(test), "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    for key in (
        "accuracy",
        "macro_f1",
        "oos_recall",
        "oos_precision",
        "ece",
        "latency_p50_ms",
        "latency_p99_ms",
        "train_seconds",
        "model_bytes",
    ):
        assert key in metrics
        assert key in result.output
    assert metrics["n_oos"] == 1
    assert 0.0 <= metrics["accuracy"] <= 1.0


def test_train_writes_an_artifact_that_classify_text_reads(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    train, _ = files
    art = tmp_path / "art"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["classify", "train", "--train", str(train), "--shots", "3", "--out", str(art)]
    )
    assert result.exit_code == 0, result.output
    assert (art / "classifier.json").is_file()
    result = runner.invoke(cli, ["classify", "text", "play jazz music", "--artifact", str(art)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["operation"] in {"music", "unknown"}


def test_eval_reports_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(cli, ["classify", "eval", "--train", str(bad), "--test", str(bad)])
    assert result.exit_code != 0
    assert "text,label" in result.output


def test_eval_refuses_one_label_zero_shots_and_an_unwritable_output_before_training(
    tmp_path: Path,
) -> None:
    one = tmp_path / "one.csv"
    one.write_text("text,label\nhello there,greet\nhi,greet\nhey you,greet\n")
    args = ["classify", "eval", "--train", str(one), "--test", str(one)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert "1 label(s) (greet): a classifier needs at least two" in result.output
    assert "--shots" in CliRunner().invoke(cli, [*args, "--shots", "0"]).output
    out = tmp_path / "a-file" / "x.json"
    (tmp_path / "a-file").write_text("not a folder")
    unwritable = CliRunner().invoke(cli, [*args, "--json", str(out)])
    assert unwritable.exit_code == 2
    assert f"cannot write {out}" in unwritable.output
    assert "threshold" not in unwritable.output  # refused before any training
