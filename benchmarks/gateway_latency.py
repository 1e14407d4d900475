"""Added latency of the gateway over calling the same upstream directly (routing on).

    .venv/bin/python benchmarks/gateway_latency.py [--rates 100,500] [--duration 15]
        [--workers 1] [--json benchmarks/results/gateway_latency.json]
        [--litellm-venv /tmp/litellm-venv] [--litellm-rates 100]

Three processes: a fast fake OpenAI-compatible upstream (fixed answer), the gateway
(``switchtower serve``, one worker, ``model: auto`` so every request is classified,
routed and selected, traces written to SQLite), and this load generator. The generator
is open loop: request ``i`` is due at ``t0 + i / rate`` whatever happened before, each on
an idle keep-alive connection or a new one, and latency runs from the due time to the
last byte, so a server that falls behind is charged for the queueing. Each rate runs
against the upstream directly, then through the gateway, then (when the throwaway venv
exists) through the LiteLLM proxy pointed at the same upstream; the added latency is the
difference of the percentiles.

Next to the latencies each run records what it cost: CPU milliseconds per request of
the gateway (all its processes), of the upstream and of this load generator (from
``/proc``, Linux), and the machine's load average before and after, so a run on a busy
shared machine can be told from a slow gateway. The gateway's CPU per request bounds
its throughput: one worker cannot serve more than ``1000 / cpu_ms`` requests/s on a
free core, and the load generator and the upstream share the same cores.

LiteLLM is never a dependency: install it only in a throwaway venv,
``python -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install
'litellm[proxy]==1.91.1'``; without it that part is skipped with a message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [
    "Summarize this paragraph about the quarterly results in two sentences.",
    "Refactor the parse_config function to remove the duplicated branches.",
    "Translate 'good morning, see you tomorrow' into French.",
    "Write a unit test for the add(a, b) function.",
    "What is the capital of Australia?",
    "Classify this support ticket: my invoice shows the wrong VAT number.",
]
ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "bench-model",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "A short fixed answer."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
}


# -- the fake upstream (run in its own process with --role upstream) ----------------------


async def upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    body = json.dumps(ANSWER).encode()
    if scope["path"].endswith("/models"):
        body = b'{"object":"list","data":[{"id":"bench-model","object":"model"}]}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def run_upstream(port: int) -> None:
    import uvicorn

    uvicorn.run(upstream_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, timeout: float = 90.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}{path} within {timeout} s")


@contextlib.contextmanager
def process(cmd: list[str], port: int, path: str, **kw: Any) -> Iterator[int]:
    """Start ``cmd``, wait until ``path`` answers on ``port``; yields the process id."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    try:
        try:
            wait_http(port, path)
        except RuntimeError:
            proc.kill()
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise RuntimeError(f"{cmd[0]} did not start:\n{err}") from None
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def gateway_config(upstream: int, workdir: Path) -> Path:
    base = f"http://127.0.0.1:{upstream}/v1"
    model = {"provider": "openai", "base_url": base, "model": "bench-model", "timeout_s": 10}
    text = {
        "tiers": {
            "local": {
                "models": [
                    {"name": "local-fake", **model, "input_per_mtok": 0.0, "output_per_mtok": 0.0}
                ]
            },
            "async": {"models": []},
            "realtime": {
                "models": [
                    {
                        "name": "frontier-fake",
                        **model,
                        "input_per_mtok": 2.0,
                        "output_per_mtok": 8.0,
                    },
                    {"name": "mini-fake", **model, "input_per_mtok": 0.4, "output_per_mtok": 1.6},
                ]
            },
        },
        "storage": {"url": f"sqlite:///{workdir / 'traces.db'}"},
        # every request must take the routed path: the prompts repeat, so no cache
        "cache": {"when": "never"},
    }
    path = workdir / "switchtower.yaml"
    path.write_text(json.dumps(text), encoding="utf-8")  # JSON is YAML
    return path


def litellm_config(upstream: int, workdir: Path) -> Path:
    path = workdir / "litellm.yaml"
    path.write_text(
        "model_list:\n"
        "  - model_name: bench-model\n"
        "    litellm_params:\n"
        "      model: openai/bench-model\n"
        f"      api_base: http://127.0.0.1:{upstream}/v1\n"
        "      api_key: not-needed\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  drop_params: true\n",
        encoding="utf-8",
    )
    return path


# -- the open-loop load generator ------------------------------------------------------------


class Pool:
    """Keep-alive HTTP/1.1 connections; a new one whenever none is idle (open loop)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.stale = 0

    async def request(self, raw: bytes) -> int:
        while self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, raw)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                writer.close()
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
                # the server closed this idle connection (keep-alive timeout) before
                # reading the request: what every HTTP client does, try another one
                self.stale += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.opened += 1
        return await self._exchange(reader, writer, raw)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
    ) -> int:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked = 0, False
        for line in head.split(b"\r\n"):
            lower = line.lower()
            if lower.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
            elif lower.startswith(b"transfer-encoding:") and b"chunked" in lower:
                chunked = True
        if chunked:
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")
        elif length:
            await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


def raw_request(port: int, model: str, prompt: str) -> bytes:
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 16}
    ).encode()
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"content-type: application/json\r\nauthorization: Bearer not-needed\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


async def open_loop(port: int, model: str, rate: float, duration: float) -> dict[str, Any]:
    pool = Pool(port)
    bodies = [raw_request(port, model, p) for p in PROMPTS]
    for i in range(20):  # warm up: connections, imports, caches
        await pool.request(bodies[i % len(bodies)])
    n = int(rate * duration)
    latencies: list[float] = []
    early: list[float] = []
    errors: dict[str, int] = {}
    clock = time.perf_counter
    # every time on one fine clock: uvloop's loop.time() is in whole milliseconds and
    # cached per loop iteration, so mapping it onto perf_counter was off by up to ~1 ms
    # per run (a direct p50 of 0.00 ms), and its timers fire up to ~1 ms early
    t0 = clock() + 0.05

    async def one(i: int) -> None:
        due = t0 + i / rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        # a timer that fired early: charge from the real send time, never before it
        sent = clock()
        start = min(due, sent)
        if sent < due:
            early.append((due - sent) * 1000.0)
        try:
            status = await asyncio.wait_for(pool.request(bodies[i % len(bodies)]), 30)
        except Exception as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
            return
        latencies.append((clock() - start) * 1000.0)

    started, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    pool.close()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return {
        "rate": rate,
        "requests": n,
        "ok": len(latencies),
        "errors": errors,
        "achieved_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(pct(0.50), 3),
        "p90_ms": round(pct(0.90), 3),
        "p99_ms": round(pct(0.99), 3),
        "max_ms": round(latencies[-1], 3) if latencies else 0.0,
        "connections": pool.opened,
        "stale_connections_replaced": pool.stale,
        "sent_early": len(early),
        "sent_early_max_ms": round(max(early), 3) if early else 0.0,
        "loadgen_cpu_ms_per_request": round(cpu * 1000.0 / max(n, 1), 3),
    }


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of ``pid`` and its descendants so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    if pid not in stats:
        return None
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats[current][1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


def measure(
    port: int, model: str, rate: float, duration: float, watch: dict[str, int] | None = None
) -> dict[str, Any]:
    """One open-loop run; ``watch`` names processes whose CPU per request is recorded."""
    watch = watch or {}
    before = {name: process_tree_cpu(pid) for name, pid in watch.items()}
    load_before = os.getloadavg()
    try:
        import uvloop

        result: dict[str, Any] = uvloop.run(open_loop(port, model, rate, duration))
    except ImportError:
        result = asyncio.run(open_loop(port, model, rate, duration))
    for name, pid in watch.items():
        after, start = process_tree_cpu(pid), before[name]
        if after is not None and start is not None:
            result[f"{name}_cpu_ms_per_request"] = round(
                (after - start) * 1000.0 / max(result["requests"], 1), 3
            )
    result["loadavg_1m"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    return result


# -- the run -----------------------------------------------------------------------------------


def added(target: dict[str, Any], direct: dict[str, Any]) -> dict[str, float]:
    return {
        "p50_ms": round(target["p50_ms"] - direct["p50_ms"], 3),
        "p99_ms": round(target["p99_ms"] - direct["p99_ms"], 3),
    }


def run_litellm(
    bin_path: Path,
    work: Path,
    *,
    upstream: tuple[int, int],
    rates: list[float],
    duration: float,
    runs: list[Any],
) -> None:
    """The same runs through the LiteLLM proxy (one worker) pointed at the same upstream."""
    up, up_pid = upstream
    ll = free_port()
    cmd = [str(bin_path), "--config", str(litellm_config(up, work)), "--port", str(ll),
           "--num_workers", "1"]  # fmt: skip
    env = {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
    with process(cmd, ll, "/health/liveliness", cwd=work, env=env) as ll_pid:
        for rate in rates:
            direct = measure(up, "bench-model", rate, duration, {"upstream": up_pid})
            watch = {"litellm": ll_pid, "upstream": up_pid}
            lite = measure(ll, "bench-model", rate, duration, watch)
            run = next((r for r in runs if r["rate"] == rate), None)
            if run is None:
                run = {"rate": rate}
                runs.append(run)
            run.update(litellm_direct=direct, litellm=lite)
            run["litellm_added"] = added(lite, direct)
            report(run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--role", choices=["bench", "upstream"], default="bench")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rates", default="100,500")
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    ap.add_argument("--litellm-venv", default="/tmp/litellm-venv")
    ap.add_argument("--litellm-rates", default=None, help="rates for LiteLLM (default: --rates)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "gateway_latency.json"))
    args = ap.parse_args()
    if args.role == "upstream":
        run_upstream(args.port)
        return

    rates = [float(r) for r in args.rates.split(",")]
    litellm_rates = [float(r) for r in (args.litellm_rates or args.rates).split(",")]
    litellm_bin = Path(args.litellm_venv) / "bin" / "litellm"
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "uptime_at_start": uptime(),
    }
    results: dict[str, Any] = {
        "machine": machine,
        "duration_s": args.duration,
        "gateway_workers": args.workers,
        "runs": [],
    }
    print(f"machine: {machine}")
    print(f"gateway workers: {args.workers}, {args.duration} s per run")
    with tempfile.TemporaryDirectory(prefix="switchtower-bench-") as tmp:
        work = Path(tmp)
        up, gw = free_port(), free_port()
        py = sys.executable
        upstream = [py, __file__, "--role", "upstream", "--port", str(up)]
        with process(upstream, up, "/v1/models") as up_pid:
            cfg = gateway_config(up, work)
            serve = [py, "-c", "from switchtower.cli import main; main()", "serve",
                     "--config", str(cfg), "--port", str(gw), "--log-level", "warning",
                     "--workers", str(args.workers)]  # fmt: skip
            with process(serve, gw, "/healthz", cwd=work) as gw_pid:
                for rate in rates:
                    direct = measure(up, "bench-model", rate, args.duration, {"upstream": up_pid})
                    watch = {"gateway": gw_pid, "upstream": up_pid}
                    routed = measure(gw, "auto", rate, args.duration, watch)
                    results["runs"].append(
                        {"rate": rate, "direct": direct, "switchtower": routed,
                         "switchtower_added": added(routed, direct)}
                    )  # fmt: skip
                    report(results["runs"][-1])
            if litellm_bin.exists():
                run_litellm(
                    litellm_bin,
                    work,
                    upstream=(up, up_pid),
                    rates=litellm_rates,
                    duration=args.duration,
                    runs=results["runs"],
                )
            else:
                print(f"\nLiteLLM skipped: no {litellm_bin} (see the module docstring)")
    summary(results)
    machine["uptime_at_end"] = uptime()
    print(f"\nuptime at the end: {machine['uptime_at_end']}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def report(run: dict[str, Any]) -> None:
    print(f"\n== {run['rate']:.0f} requests/s ==")
    for name in ("direct", "switchtower", "litellm_direct", "litellm"):
        r = run.get(name)
        if r is None:
            continue
        cpu = "  ".join(
            f"{k.removesuffix('_cpu_ms_per_request')} {v:.2f}"
            for k, v in r.items()
            if k.endswith("_cpu_ms_per_request")
        )
        print(
            f"  {name:15} p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms  "
            f"achieved {r['achieved_rps']:6.1f}/s  ok {r['ok']}/{r['requests']}  "
            f"errors {r['errors'] or '-'}\n  {'':15} CPU ms/request: {cpu}  "
            f"load avg {r['loadavg_1m'][0]} -> {r['loadavg_1m'][1]}"
        )
    sys.stdout.flush()


def summary(results: dict[str, Any]) -> None:
    print("\nadded latency over calling the upstream directly (ms)")
    print(f"  {'rate/s':>7}  {'switchtower p50':>15}  {'p99':>8}  {'litellm p50':>11}  "
          f"{'p99':>8}  {'ratio p50':>9}  {'ratio p99':>9}")  # fmt: skip
    for run in results["runs"]:
        st, ll = run.get("switchtower_added"), run.get("litellm_added")
        cells = [f"{run['rate']:7.0f}"]
        cells += [f"{st['p50_ms']:15.2f}", f"{st['p99_ms']:8.2f}"] if st else ["-" * 15, "-" * 8]
        cells += [f"{ll['p50_ms']:11.2f}", f"{ll['p99_ms']:8.2f}"] if ll else ["-" * 11, "-" * 8]
        if st and ll:
            ratio = [ll[k] / st[k] if st[k] > 0 else float("inf") for k in ("p50_ms", "p99_ms")]
            run["ratio_litellm_over_switchtower"] = {"p50": ratio[0], "p99": ratio[1]}
            cells += [f"{ratio[0]:9.1f}", f"{ratio[1]:9.1f}"]
        print("  " + "  ".join(cells))


if __name__ == "__main__":
    main()
