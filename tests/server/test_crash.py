"""A killed gateway loses no trace: the journal is recovered at the next start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from fakes.openai_upstream import FakeOpenAI
from switchtower.server.journal import TraceJournal
from switchtower.store import open_store
from switchtower.store.spool import Spool
from switchtower.types import Trace


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(config: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("switchtower")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--config", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("gateway did not start: " + proc.stderr.read().decode()[-2000:])


@pytest.mark.slow
def test_kill_9_right_after_answers_loses_no_trace(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    db = tmp_path / "traces.db"
    config = tmp_path / "switchtower.yaml"
    model = {
        "name": "fake-local",
        "provider": "openai",
        "model": "fake-small",
        "base_url": fake_openai.base_url,
        "input_per_mtok": 0.0,
        "output_per_mtok": 0.0,
    }
    config.write_text(yaml.safe_dump({
        "tiers": {"local": {"models": [model]}, "async": {"models": []},
                  "realtime": {"models": []}},
        "storage": {"url": f"sqlite:///{db}"},
    }))  # fmt: skip
    env = {**os.environ, "SWITCHTOWER_CACHE_DIR": str(tmp_path / "cache")}
    port = _free_port()
    proc = _serve(config, port, env)
    ids = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for i in range(30):
                r = client.post(
                    "/v1/chat/completions",
                    json={"model": "auto", "messages": [{"role": "user", "content": f"hi {i}"}]},
                )
                assert r.status_code == 200, r.text
                ids.append(r.headers["x-switchtower-trace-id"])
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown hook runs
        proc.wait(timeout=10)
    # a restart recovers what the killed process had journaled but not committed
    proc = _serve(config, _free_port(), env)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    store = open_store(f"sqlite:///{db}")
    missing = [i for i in ids if store.get(i) is None]
    assert missing == [], f"{len(missing)} of {len(ids)} traces lost"


def test_recover_moves_unheld_segments_into_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "t.spool.jsonl")
    dead = TraceJournal(tmp_path / "j")
    trace = Trace("t1", 0.0, "d", "op", 1.0, "local", "m", "batch", {}, {})
    dead.append(trace)
    os.close(dead._current.fd)  # the process died: its lock is gone, the file stays
    live = TraceJournal(tmp_path / "j")
    live.append(Trace("t2", 0.0, "d", "op", 1.0, "local", "m", "batch", {}, {}))
    assert live.recover(spool) == 1
    assert len(spool) == 1
    assert "t1" in spool.path.read_text()
    assert len(list((tmp_path / "j").glob("journal-*.jsonl"))) == 1  # the live one stays
