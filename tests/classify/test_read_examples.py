"""Labelled files in the public formats the eval reads, including ones it was not built on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from switchtower.classify.evaluate import DATASETS, read_examples
from switchtower.cli import cli
from switchtower.errors import DataFormatError

CLINC = {
    "train": [["play some jazz", "play_music"], ["will it rain", "weather"]] * 6,
    "val": [["next song", "play_music"]],
    "test": [["play a song", "play_music"], ["rain tomorrow?", "weather"]],
    "oos_train": [["what is love", "oos"]],
    "oos_val": [["tell me a joke about cats", "oos"]],
    "oos_test": [["who won the cup", "oos"]],
}


def test_clinc150_release_file_splits_by_side(tmp_path: Path) -> None:
    path = tmp_path / "data_small.json"
    path.write_text(json.dumps(CLINC))
    texts, labels = read_examples(path, "train")
    # train + the out-of-scope queries of train and val; the in-scope val is never read
    assert len(texts) == 14
    assert "next song" not in texts
    assert labels.count("oos") == 2
    assert read_examples(path, "test") == (
        ["play a song", "rain tomorrow?", "who won the cup"],
        ["play_music", "weather", "oos"],
    )


def test_clinc150_shortcut_reads_the_one_variant_present(tmp_path: Path) -> None:
    base = tmp_path / "intent" / "clinc150"
    base.mkdir(parents=True)
    (base / "data_oos_plus.json").write_text(json.dumps(CLINC))
    (train, _), (_, test_labels) = DATASETS["clinc150"](tmp_path)
    assert len(train) == 14
    assert test_labels[-1] == "oos"
    # the data root, its intent folder or the dataset's own folder: the same files
    whole = DATASETS["clinc150"](tmp_path)
    for root in (tmp_path / "intent", base):
        assert DATASETS["clinc150"](root) == whole
    (base / "data_imbalanced.json").write_text(json.dumps(CLINC))
    # two variants and no data_full.json: ambiguous, the error names them
    with pytest.raises(DataFormatError, match=r"data_imbalanced\.json, data_oos_plus\.json"):
        DATASETS["clinc150"](tmp_path)


def test_json_array_jsonl_label_aliases_and_csv_bom(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([["hello there", "greet"], {"text": "bye", "intent": "leave"}]))
    assert read_examples(pairs) == (["hello there", "bye"], ["greet", "leave"])
    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"text": "a b", "category": "x"}\n\n{"text": "c", "label": "y"}\n')
    assert read_examples(lines) == (["a b", "c"], ["x", "y"])
    bom = tmp_path / "excel.csv"
    bom.write_bytes("\ufefftext , category\nhi,greet\n".encode())
    assert read_examples(bom) == (["hi"], ["greet"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.jsonl", '{"text": "x"}\n', r"a.jsonl:1: expected \{'text', 'label'\}"),
        ("b.jsonl", '{"text": "x", "label": "y"}\n{oops\n', "b.jsonl:2: not JSON"),
        ("c.json", '[["only one"]]', "c.json: item 1"),
        ("d.csv", "question,answer\nq,a\n", "CSV needs columns text,label"),
    ],
)
def test_malformed_files_name_the_place(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataFormatError, match=message):
        read_examples(path)


def test_eval_cli_takes_a_clinc150_file_for_both_sides(tmp_path: Path) -> None:
    path = tmp_path / "data_full.json"
    path.write_text(json.dumps(CLINC))
    out = tmp_path / "m.json"
    result = CliRunner().invoke(
        cli, ["classify", "eval", "--train", str(path), "--test", str(path), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    assert (metrics["n_test"], metrics["n_oos"]) == (3, 1)


def test_rows_without_a_text_or_a_label_are_no_examples(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("text,label\nhello,greet\n,greet\nbye,\n  ,leave\nsee you,leave\n")
    assert read_examples(path) == (["hello", "see you"], ["greet", "leave"])
    header_only = tmp_path / "header.csv"
    header_only.write_text("text,label\n")
    with pytest.raises(DataFormatError, match="no examples"):
        read_examples(header_only)
