"""Loaders: format detection from content, each format, and rejection of unknown files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from switchtower.bench.loaders import detect_format, load_file, load_files
from switchtower.bench.workload import (
    DeadlineMix,
    gold_operation,
    hash_split,
    select_split,
)
from switchtower.errors import DataFormatError

from .conftest import RB_MODELS, write_mt_bench, write_routellm_csv


def test_routerbench_rows_parsed_and_empty_quality_dropped(rb_file: Path) -> None:
    assert detect_format(rb_file).name == "routerbench"
    items = load_file(rb_file)
    assert [i.id for i in items] == ["arc.test.1", "legal.1"]
    first = items[0]
    # the stringified Python list became the plain prompt
    prompt = "Which is a mammal?\nA) shark\nB) whale"
    assert first.messages == ({"role": "user", "content": prompt},)
    assert first.operation == "answer-question"
    assert first.dataset == "arc-challenge"
    assert first.outcomes["gpt-4-1106-preview"].cost_usd == 0.01
    assert first.outcomes["mistralai/mistral-7b-chat"].quality == 0.0
    assert first.outcomes["gpt-4-1106-preview"].response == "answer by gpt-4-1106-preview"
    assert first.split is None  # a RouterBench file is its own split
    # unseen eval name: slugified
    assert items[1].operation == "legal-qa"


def test_routellm_csv_with_responses_and_hash_split(tmp_path: Path) -> None:
    rows = [(f"Question number {n}: what is {n} + {n}?", n % 2 == 0, True) for n in range(40)]
    path = write_routellm_csv(tmp_path / "gsm8k_responses.csv", rows)
    assert detect_format(path).name == "routellm-csv"
    items = load_file(path)
    assert len(items) == 40
    assert {i.dataset for i in items} == {"gsm8k"}
    assert {i.operation for i in items} == {"solve-math"}
    assert items[1].outcomes["mistralai/Mixtral-8x7B-Instruct-v0.1"].quality == 0.0
    assert items[0].outcomes["gpt-4-1106-preview"].output_tokens > 1
    assert all(i.split == hash_split(i.prompt) for i in items)
    train, test = select_split(items, "train"), select_split(items, "test")
    assert len(train) + len(test) == 40
    assert not {i.id for i in train} & {i.id for i in test}
    assert 8 <= len(train) <= 32  # a hash split, roughly half


def test_mmlu_style_csv_without_responses(tmp_path: Path) -> None:
    path = write_routellm_csv(
        tmp_path / "mmlu_anatomy.csv",
        [("Which bone?\nA. femur\nAnswer:", True, False)],
        responses=False,
    )
    (item,) = load_file(path)
    assert item.dataset == "mmlu-anatomy"
    assert item.operation == "answer-question"
    # no response recorded: one output token
    assert {o.output_tokens for o in item.outcomes.values()} == {1}
    assert item.outcomes["gpt-4-1106-preview"].quality == 0.0


def test_mt_bench_turns_from_questions_never_from_judge_prompts(tmp_path: Path) -> None:
    path = write_mt_bench(tmp_path / "mt_bench")
    for target in (path, path.parent):  # the file or its folder
        assert detect_format(target).name == "routellm-mt-bench"
    items = load_file(path)
    assert len(items) == 4
    by_id = {i.id: i for i in items}
    t2 = by_id["mt-bench.1.t2"]
    assert [m["content"] for m in t2.messages] == ["Write a poem.", "Make it rhyme."]
    assert t2.operation == "writing"
    assert t2.outcomes["mixtral-8x7b"].quality == pytest.approx(0.8)
    assert t2.outcomes["gpt-4-1106-preview"].quality == pytest.approx(0.9)
    # both turns of a question fall in the same split (hashed on the first turn)
    assert t2.split == by_id["mt-bench.1.t1"].split
    text = json.dumps([i.messages for i in items])
    assert "SECRET" not in text


def test_mt_bench_needs_question_file(tmp_path: Path) -> None:
    path = write_mt_bench(tmp_path / "mt")
    (path.parent / "question.jsonl").unlink()
    with pytest.raises(DataFormatError, match=r"question\.jsonl"):
        load_file(path)


def test_question_file_alone_is_rejected_with_advice(tmp_path: Path) -> None:
    path = write_mt_bench(tmp_path / "mt")
    with pytest.raises(DataFormatError, match=r"judgements\.jsonl"):
        load_file(path.parent / "question.jsonl")


@pytest.mark.parametrize(
    "content",
    ["just some text\nno structure\n", "a,b,c\n1,2,3\n", '{"foo": 1}\n', ""],
)
def test_unknown_format_is_rejected_naming_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "mystery.dat"
    path.write_text(content, "utf-8")
    with pytest.raises(DataFormatError, match=r"mystery\.dat"):
        load_file(path)


def test_duplicate_ids_across_files_are_rejected(rb_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.csv"
    copy.write_bytes(rb_file.read_bytes())
    with pytest.raises(DataFormatError, match="also appears"):
        load_files([rb_file, copy])


def test_deadline_mix_is_deterministic_and_close_to_shares() -> None:
    mix = DeadlineMix()
    ids = [f"item-{n}" for n in range(4000)]
    first = [mix.assign(i) for i in ids]
    assert first == [mix.assign(i) for i in ids]
    share = {d: first.count(d) / len(ids) for d in ("interactive", "soon", "batch")}
    assert share["interactive"] == pytest.approx(0.25, abs=0.03)
    assert share["soon"] == pytest.approx(0.25, abs=0.03)
    assert share["batch"] == pytest.approx(0.5, abs=0.03)
    only_batch = DeadlineMix.parse("interactive=0,soon=0,batch=1")
    assert {only_batch.assign(i) for i in ids[:50]} == {"batch"}
    with pytest.raises(DataFormatError):
        DeadlineMix.parse("0.5,0.5,0.5")


def test_gold_operation_rule() -> None:
    assert gold_operation("arc-challenge") == "answer-question"
    assert gold_operation("mbpp") == "write-code"
    assert gold_operation("GSM8K") == "solve-math"
    assert gold_operation("mmlu_high_school_physics") == "answer-question"
    assert gold_operation("Some New Eval") == "some-new-eval"


def test_a_model_with_a_cost_column_but_no_quality_column_is_rejected(
    rb_file: Path, tmp_path: Path
) -> None:
    """Dropping the frontier's quality column once made another model 'always-frontier'
    and the targets read as met: such a file is refused, naming the model."""
    lines = rb_file.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    gone = header.index(RB_MODELS[0])
    cut = tmp_path / "no_frontier_quality.csv"
    cut.write_text(
        "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != gone) for line in lines)
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFormatError, match=f"{RB_MODELS[0]} have a \\|total_cost column"):
        load_file(cut)


def test_a_file_that_is_not_utf8_or_is_a_folder_says_so(rb_file: Path, tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(rb_file.read_bytes().replace(b"mammal", b"mamm\xe4l"))
    with pytest.raises(DataFormatError, match="not UTF-8 text"):
        load_file(latin)
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(DataFormatError, match="a folder holding no benchmark file"):
        load_file(empty)
