"""A killed gateway loses no accepted job: jobs are committed before the 202, and the
next start's worker sends them and stores the answers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
import yaml

from fakes.openai_upstream import FakeOpenAI
from server.test_crash import _free_port, _serve


@pytest.mark.slow
def test_kill_9_after_202s_loses_no_job(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    config = tmp_path / "switchtower.yaml"
    priced = {
        "provider": "openai",
        "model": "fake-big",
        "base_url": fake_openai.base_url,
        "input_per_mtok": 2.0,
        "output_per_mtok": 8.0,
    }
    config.write_text(yaml.safe_dump({
        "tiers": {
            "local": {"models": []},
            "async": {"models": [{"name": "fake-batch", "batch": True, "max_delay_s": 86400,
                                  **priced}]},
            "realtime": {"models": [{"name": "fake-frontier", **priced}]},
        },
        # the first process never sends: the jobs wait for a batch that fills up
        "queue": {"linger_s": 3600, "max_batch": 1000, "poll_s": 0.05},
        "storage": {"url": f"sqlite:///{tmp_path / 'st.db'}"},
    }))  # fmt: skip
    env = {**os.environ, "SWITCHTOWER_CACHE_DIR": str(tmp_path / "cache")}
    hints = {"x-switchtower-async": "true", "x-switchtower-deadline": "batch",
             "x-switchtower-tier": "async"}  # fmt: skip
    port = _free_port()
    proc = _serve(config, port, env)
    ids = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for i in range(10):
                body = {"model": "auto", "messages": [{"role": "user", "content": f"sum {i}"}]}
                r = client.post("/v1/chat/completions", json=body, headers=hints)
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown hook runs
        proc.wait(timeout=10)
    assert not fake_openai.batches
    # restarted with a queue that sends at once: every accepted job is answered
    data = yaml.safe_load(config.read_text())
    data["queue"]["linger_s"] = 0
    config.write_text(yaml.safe_dump(data))
    port = _free_port()
    proc = _serve(config, port, env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 30
            jobs: list[dict[str, object]] = []
            while time.monotonic() < deadline:
                jobs = [client.get(f"/v1/jobs/{i}").json() for i in ids]
                if all(j["status"] == "completed" for j in jobs):
                    break
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert [j["status"] for j in jobs] == ["completed"] * 10
    assert len(fake_openai.batches) == 1
    (batch,) = fake_openai.batches.values()
    assert sorted(line["custom_id"] for line in batch.lines) == sorted(ids)
