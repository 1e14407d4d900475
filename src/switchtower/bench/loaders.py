"""Turn benchmark files into workloads; the format is detected from the content.

Formats (each a :class:`FileFormat` in :data:`FORMATS`, tried in order):

``routerbench``
    RouterBench CSV: ``prompt``, ``eval_name``, one quality column per model,
    ``<model>|total_cost`` (USD) and optionally ``<model>|model_response``. Rows with an
    empty quality cell are dropped. Prompts and responses that are stringified Python
    lists are parsed with :func:`ast.literal_eval` (never ``eval``).
``routellm-csv``
    RouteLLM responses CSV: ``prompt`` plus one correctness column per model
    (``True``/``False`` or 0/1) and optionally ``<model>_response`` (GSM8K); MMLU-style
    files have only the correctness columns. No cost: the tier plan prices tokens.
``routellm-mt-bench``
    RouteLLM MT-Bench ``judgements.jsonl`` (a directory holding one also works) with
    ``question.jsonl`` beside it. One item per (question, turn); the prompt is the
    question's turns up to that one, from ``question.jsonl`` only: a judge prompt holds
    the model's answer, so nothing from ``judgements.jsonl`` but the score is read.
    Quality = judge score / 10.

RouteLLM files carry no split: each item gets the fixed hash split of its prompt
(:func:`~switchtower.bench.workload.hash_split`).
"""

from __future__ import annotations

import ast
import csv
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchtower.bench.workload import (
    DeadlineMix,
    ModelOutcome,
    WorkloadItem,
    gold_operation,
    hash_split,
    slugify,
)
from switchtower.errors import DataFormatError
from switchtower.tokens import estimate_message_tokens, estimate_tokens

__all__ = ["FORMATS", "FileFormat", "detect_format", "load_file", "load_files"]

_RESPONSE_SUFFIX = "_response"
_RB_COST = "|total_cost"
_RB_RESPONSE = "|model_response"
_JUDGEMENT_KEYS = frozenset({"question_id", "model", "score", "turn"})
_QUESTION_KEYS = frozenset({"question_id", "turns"})


@dataclass(frozen=True, slots=True)
class FileFormat:
    """One supported format: ``sniff`` looks at the content, ``load`` reads it."""

    name: str
    sniff: Callable[[Path], bool]
    load: Callable[[Path, DeadlineMix], list[WorkloadItem]]


# -- helpers ----------------------------------------------------------------------------


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def _csv_head(path: Path) -> tuple[list[str], dict[str, str] | None]:
    """The header and the first row (or ``None``), or ``([], None)`` if not CSV text."""
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            row = next(reader, None)
    except (UnicodeDecodeError, csv.Error, OSError):
        return [], None
    if row is None:
        return header, None
    return header, dict(zip(header, row, strict=False))


def _first_json(path: Path) -> Mapping[str, Any] | None:
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    obj = json.loads(line)
                    return obj if isinstance(obj, Mapping) else None
    except (UnicodeDecodeError, json.JSONDecodeError, OSError):
        return None
    return None


def _unlist(text: str) -> list[str]:
    """``"['a', 'b']"`` -> ``["a", "b"]``; any other text -> ``[text]``."""
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return [text]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    return [text]


def _parse_quality(raw: str, path: Path, where: str) -> float | None:
    text = raw.strip()
    if not text:
        return None
    low = text.lower()
    if low in ("true", "false"):
        return 1.0 if low == "true" else 0.0
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(f"{path}: {where}: quality {raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise DataFormatError(f"{path}: {where}: quality {value} is outside [0, 1]")
    return value


def _user_messages(turns: Sequence[str]) -> tuple[dict[str, Any], ...]:
    return tuple({"role": "user", "content": t} for t in turns)


def _unique_id(base: str, seen: set[str]) -> str:
    out, n = base, 1
    while out in seen:
        n += 1
        out = f"{base}#{n}"
    seen.add(out)
    return out


# -- RouterBench ------------------------------------------------------------------------


def _rb_models(header: Sequence[str]) -> list[str]:
    cols = set(header)
    return [c for c in header if f"{c}{_RB_COST}" in cols]


def _sniff_routerbench(path: Path) -> bool:
    header, _ = _csv_head(path)
    return "prompt" in header and "eval_name" in header and bool(_rb_models(header))


def _load_routerbench(path: Path, mix: DeadlineMix) -> list[WorkloadItem]:
    header, _ = _csv_head(path)
    models = _rb_models(header)
    cols = set(header)
    orphans = [c[: -len(_RB_COST)] for c in header if c.endswith(_RB_COST)]
    orphans = [m for m in orphans if m not in cols]
    if orphans:  # its cost is there but not its quality: the baselines would be wrong
        raise DataFormatError(
            f"{path}: model(s) {', '.join(orphans)} have a {_RB_COST} column but no quality "
            "column; RouterBench files hold both for every model"
        )
    items: list[WorkloadItem] = []
    seen: set[str] = set()
    for n, row in enumerate(_csv_rows(path), start=2):
        where = f"line {n}"
        qualities = {m: _parse_quality(row.get(m) or "", path, where) for m in models}
        if any(q is None for q in qualities.values()):
            continue  # a few RouterBench rows have an empty quality cell: dropped
        turns = _unlist(row.get("prompt") or "")
        if not any(t.strip() for t in turns):
            continue
        messages = _user_messages(turns)
        in_tokens = estimate_message_tokens(messages)
        outcomes: dict[str, ModelOutcome] = {}
        for m in models:
            cost_raw = (row.get(f"{m}{_RB_COST}") or "").strip()
            try:
                cost = float(cost_raw) if cost_raw else None
            except ValueError:
                raise DataFormatError(f"{path}: {where}: cost {cost_raw!r} of {m}") from None
            resp_raw = row.get(f"{m}{_RB_RESPONSE}")
            response = "\n".join(_unlist(resp_raw)) if resp_raw else None
            quality = qualities[m]
            assert quality is not None
            outcomes[m] = ModelOutcome(
                quality=quality,
                input_tokens=in_tokens,
                output_tokens=max(1, estimate_tokens(response or "")),
                cost_usd=cost,
                response=response,
            )
        eval_name = (row.get("eval_name") or "").strip() or path.stem
        dataset = slugify(eval_name)
        item_id = _unique_id((row.get("sample_id") or "").strip() or f"{dataset}.{n}", seen)
        items.append(
            WorkloadItem(
                id=item_id,
                messages=messages,
                operation=gold_operation(eval_name),
                deadline=mix.assign(item_id),
                outcomes=outcomes,
                dataset=dataset,
                split=None,
                prompt=turns[0],
            )
        )
    return items


# -- RouteLLM responses CSV (GSM8K, MMLU) --------------------------------------------


def _rl_models(header: Sequence[str]) -> list[str]:
    return [c for c in header if c and c != "prompt" and not c.endswith(_RESPONSE_SUFFIX)]


def _sniff_routellm_csv(path: Path) -> bool:
    header, first = _csv_head(path)
    if "prompt" not in header or "eval_name" in header or first is None:
        return False
    models = _rl_models(header)
    if not models:
        return False
    for m in models:
        value = (first.get(m) or "").strip().lower()
        if value in ("true", "false", ""):
            continue
        try:
            if not 0.0 <= float(value) <= 1.0:
                return False
        except ValueError:
            return False
    return True


def _dataset_from_stem(path: Path) -> str:
    stem = slugify(path.stem)
    suffix = "-responses"
    return stem[: -len(suffix)] if stem.endswith(suffix) and stem != suffix[1:] else stem


def _load_routellm_csv(path: Path, mix: DeadlineMix) -> list[WorkloadItem]:
    header, _ = _csv_head(path)
    models = _rl_models(header)
    dataset = _dataset_from_stem(path)
    operation = gold_operation(dataset)
    items: list[WorkloadItem] = []
    seen: set[str] = set()
    for n, row in enumerate(_csv_rows(path), start=2):
        where = f"line {n}"
        qualities = {m: _parse_quality(row.get(m) or "", path, where) for m in models}
        prompt = row.get("prompt") or ""
        if any(q is None for q in qualities.values()) or not prompt.strip():
            continue
        messages = _user_messages([prompt])
        in_tokens = estimate_message_tokens(messages)
        outcomes: dict[str, ModelOutcome] = {}
        for m in models:
            response = row.get(f"{m}{_RESPONSE_SUFFIX}")
            quality = qualities[m]
            assert quality is not None
            outcomes[m] = ModelOutcome(
                quality=quality,
                input_tokens=in_tokens,
                output_tokens=max(1, estimate_tokens(response or "")),
                response=response,
            )
        item_id = _unique_id(f"{dataset}.{n - 2}", seen)
        items.append(
            WorkloadItem(
                id=item_id,
                messages=messages,
                operation=operation,
                deadline=mix.assign(item_id),
                outcomes=outcomes,
                dataset=dataset,
                split=hash_split(prompt),
                prompt=prompt,
            )
        )
    return items


# -- RouteLLM MT-Bench ----------------------------------------------------------------


def _judgements_path(path: Path) -> Path:
    return path / "judgements.jsonl" if path.is_dir() else path


def _sniff_mt_bench(path: Path) -> bool:
    first = _first_json(_judgements_path(path))
    return first is not None and set(first) >= _JUDGEMENT_KEYS


def _read_jsonl(path: Path) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"{path}: line {n}: not JSON: {exc}") from exc
            if not isinstance(obj, Mapping):
                raise DataFormatError(f"{path}: line {n}: not a JSON object")
            out.append(obj)
    return out


def _load_mt_bench(path: Path, mix: DeadlineMix) -> list[WorkloadItem]:
    judgements = _judgements_path(path)
    questions_path = judgements.parent / "question.jsonl"
    if not questions_path.is_file():
        raise DataFormatError(
            f"{judgements}: MT-Bench judgements need question.jsonl beside them "
            f"(looked for {questions_path})"
        )
    questions: dict[str, Mapping[str, Any]] = {}
    for q in _read_jsonl(questions_path):
        turns = q.get("turns")
        if "question_id" not in q or not isinstance(turns, list):
            raise DataFormatError(f"{questions_path}: a question lacks question_id or turns")
        questions[str(q["question_id"])] = q
    # (question, turn) -> model -> scores; only the score is read from a judgement
    scores: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    models: dict[str, None] = {}
    for j in _read_jsonl(judgements):
        try:
            qid, turn, model = str(j["question_id"]), int(j["turn"]), str(j["model"])
            score = float(j["score"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"{judgements}: bad judgement record: {exc}") from exc
        if score < 0:  # FastChat writes -1 when the judge's rating could not be parsed
            continue
        scores[(qid, turn)][model].append(min(score, 10.0) / 10.0)
        models.setdefault(model)
    dataset = slugify(judgements.parent.name) if judgements.parent.name else "mt-bench"
    items: list[WorkloadItem] = []
    for (qid, turn), per_model in sorted(scores.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        question = questions.get(qid)
        if question is None or set(per_model) != set(models):
            continue  # no question text, or not every model was judged on this turn
        turns = [str(t) for t in question["turns"]][:turn]
        if len(turns) < turn or not turns[0].strip():
            continue
        messages = _user_messages(turns)
        in_tokens = estimate_message_tokens(messages)
        outcomes = {
            m: ModelOutcome(
                quality=sum(per_model[m]) / len(per_model[m]),
                input_tokens=in_tokens,
                output_tokens=1,  # no response recorded
            )
            for m in models
        }
        item_id = f"{dataset}.{qid}.t{turn}"
        items.append(
            WorkloadItem(
                id=item_id,
                messages=messages,
                operation=slugify(str(question.get("category") or dataset)),
                deadline=mix.assign(item_id),
                outcomes=outcomes,
                dataset=dataset,
                split=hash_split(turns[0]),
                prompt=turns[0],
            )
        )
    return items


def _sniff_mt_bench_questions(path: Path) -> bool:
    first = _first_json(path)
    return first is not None and set(first) >= _QUESTION_KEYS and "score" not in first


def _reject_questions(path: Path, mix: DeadlineMix) -> list[WorkloadItem]:
    raise DataFormatError(
        f"{path}: this is an MT-Bench question file; pass judgements.jsonl (the questions "
        "are read from beside it)"
    )


FORMATS: tuple[FileFormat, ...] = (
    FileFormat("routerbench", _sniff_routerbench, _load_routerbench),
    FileFormat("routellm-mt-bench", _sniff_mt_bench, _load_mt_bench),
    FileFormat("routellm-csv", _sniff_routellm_csv, _load_routellm_csv),
    FileFormat("routellm-mt-bench-questions", _sniff_mt_bench_questions, _reject_questions),
)


def detect_format(path: str | Path) -> FileFormat:
    """The format of ``path`` from its content; :class:`DataFormatError` if none fits."""
    p = Path(path)
    if not p.exists():
        raise DataFormatError(f"{p}: no such file")
    if p.is_file():
        try:
            with p.open("rb") as fh:
                fh.read(1 << 16).decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < (1 << 16) - 4:  # not a multi-byte character cut by the read
                raise DataFormatError(
                    f"{p}: not UTF-8 text (byte {exc.start}: {exc.reason})"
                ) from exc
    for fmt in FORMATS:
        if fmt.sniff(p):
            return fmt
    known = ", ".join(f.name for f in FORMATS if not f.name.endswith("questions"))
    if p.is_dir():
        raise DataFormatError(f"{p}: a folder holding no benchmark file (known: {known})")
    raise DataFormatError(f"{p}: unrecognized benchmark file format (known: {known})")


def load_file(path: str | Path, *, mix: DeadlineMix | None = None) -> list[WorkloadItem]:
    """Every item of one file (both halves of a file without a split)."""
    p = Path(path)
    items = detect_format(p).load(p, mix or DeadlineMix())
    if not items:
        raise DataFormatError(f"{p}: no usable rows")
    return items


def load_files(
    paths: Sequence[str | Path], *, mix: DeadlineMix | None = None
) -> list[WorkloadItem]:
    """Items of several files; item ids must not collide across files."""
    out: list[WorkloadItem] = []
    seen: dict[str, str] = {}
    for path in paths:
        for item in load_file(path, mix=mix):
            if item.id in seen:
                raise DataFormatError(
                    f"{path}: item id {item.id!r} also appears in {seen[item.id]}"
                )
            seen[item.id] = str(path)
            out.append(item)
    return out
