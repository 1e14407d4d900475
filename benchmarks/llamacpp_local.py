"""Measure the embedded local model on this machine: llama.cpp server start time,
tokens/s for SmolLM2-135M-Instruct in server and in-process mode, and server stop time.

    .venv/bin/python benchmarks/llamacpp_local.py [--tokens 64] [--runs 3]

Prints numbers; asserts nothing. Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from switchtower.config.schema import ModelConfig
from switchtower.protocols import ModelInfo
from switchtower.providers import LlamaCppProvider
from switchtower.types import Request


def model(mode: str) -> ModelInfo:
    spec = ModelConfig(
        name=f"smollm2-{mode}", provider="llamacpp", model="SmolLM2-135M-Instruct",
        options={"mode": mode},
    )  # fmt: skip
    return ModelInfo(
        name=spec.name, tier="local", provider="llamacpp", model_id=spec.model_id,
        context_window=2048, input_per_mtok=0.0, output_per_mtok=0.0, spec=spec,
    )  # fmt: skip


async def run(mode: str, tokens: int, runs: int, n_threads: int) -> None:
    provider = LlamaCppProvider(n_ctx=2048, n_threads=n_threads)
    m = model(mode)
    request = Request.from_text(
        "Write a short story about a lighthouse keeper.",
        params={"max_tokens": tokens, "temperature": 0.0},
    )
    t0 = time.perf_counter()
    first = await provider.complete(m, Request.from_text("hi", params={"max_tokens": 1}))
    start_s = time.perf_counter() - t0
    rates, latencies = [], []
    for _ in range(runs):
        t = time.perf_counter()
        c = await provider.complete(m, request)
        dt = time.perf_counter() - t
        latencies.append(dt)
        rates.append(c.usage.output_tokens / dt)
    t = time.perf_counter()
    await provider.aclose()
    stop_s = time.perf_counter() - t
    print(
        f"{mode:9s} n_threads={n_threads} start+first call {start_s:5.2f}s  "
        f"generate {tokens} tok: median {statistics.median(latencies):5.2f}s  "
        f"{statistics.median(rates):6.1f} tok/s (min {min(rates):.1f}, max {max(rates):.1f})  "
        f"stop {stop_s:4.2f}s  [{first.usage.input_tokens} prompt tokens in warm-up]"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    for n_threads in args.threads:
        for mode in ("server", "inprocess"):
            asyncio.run(run(mode, args.tokens, args.runs, n_threads))


if __name__ == "__main__":
    main()
