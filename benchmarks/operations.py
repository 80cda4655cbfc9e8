"""Operator scenarios against a real translator-serve on the shipped models (issue 14).

- ``sigterm``: 48 clients each send 16 test2016 sentences (beam 5); once the server has accepted all
  48, SIGTERM. Counts the answers by status (none may be cut off) and times the exit.
- ``fairness``: a pathological request (one 5,000-character word, beam 12, max_output_length 512),
  then, once it runs, a one-sentence request: how long the small one takes, and what became of
  the big one.
- ``hangups``: 16 clients each send 64 sentences (beam 5) and hang up after 0.3 s: how long until the
  server is idle (its CPU time stops growing) after the last one left.

Prints a table and writes JSON (default benchmarks/results/operations.json). Timed figures need the
cores to themselves: run under the timing lock with ``--pause-pid`` for background jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import string
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, machine_line  # noqa: E402
from pausing import paused  # noqa: E402
from served import ROOT, Server, test_sentences  # noqa: E402

MODELS = [ROOT / "models/de-en", ROOT / "models/en-de"]
ROUTE = {"source_lang": "de", "target_lang": "en"}


async def sigterm(log_dir: Path) -> dict:
    sentences = test_sentences()
    with Server(MODELS, log_dir / "sigterm.log") as server:
        drain_limit = 35.0  # the default: request_timeout_s (30) + 5
        before = server.metric("translator_accepted_requests_total")
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=100)) as client:
            bodies = [{"texts": sentences[16 * i:16 * (i + 1)], "beam_size": 5, **ROUTE} for i in range(48)]
            tasks = [asyncio.create_task(client.post(server.url + "/translate", json=body)) for body in bodies]
            while server.metric("translator_accepted_requests_total") < before + len(bodies):
                await asyncio.sleep(0.01)
            unanswered_at_sigterm = sum(not task.done() for task in tasks)
            signalled = time.monotonic()
            server.signal(signal.SIGTERM)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            last_answer_s = time.monotonic() - signalled
        await asyncio.to_thread(server.process.wait, 120)
        exit_s = time.monotonic() - signalled
    statuses = Counter(r.status_code if isinstance(r, httpx.Response) else type(r).__name__ for r in results)
    return {"requests": len(bodies), "sentences_each": 16, "beam_size": 5,
            "unanswered_at_sigterm": unanswered_at_sigterm, "answers": dict(statuses),
            "cut_off": sum(n for status, n in statuses.items() if status not in (200, 503)),
            "last_answer_after_sigterm_s": round(last_answer_s, 2), "exit_after_sigterm_s": round(exit_s, 2),
            "exit_code": server.process.returncode, "drain_limit_s": drain_limit}


async def fairness(log_dir: Path) -> dict:
    word = "".join(random.Random(0).choice(string.ascii_lowercase) for _ in range(5000))
    with Server(MODELS, log_dir / "fairness.log") as server:
        async with httpx.AsyncClient(timeout=120) as client:
            started = time.monotonic()
            heavy = asyncio.create_task(client.post(server.url + "/translate", json={
                "text": word, "beam_size": 12, "max_output_length": 512, **ROUTE}))
            while not server.metric("translator_worker_busy"):
                await asyncio.sleep(0.01)
            await asyncio.sleep(1.0)  # well into the heavy request's search
            small_started = time.monotonic()
            small = await client.post(server.url + "/translate", json={"text": "Ein Hund läuft.", **ROUTE})
            small_s = time.monotonic() - small_started
            heavy_running_when_small_done = not heavy.done()
            heavy_response = await heavy
            heavy_s = time.monotonic() - started
        idle_s = await asyncio.to_thread(server.seconds_until_idle, 60)
    return {"small_status": small.status_code, "small_latency_s": round(small_s, 3),
            "small_text": small.json()["translations"][0]["text"] if small.status_code == 200 else None,
            "heavy_still_running_when_small_answered": heavy_running_when_small_done,
            "heavy_status": heavy_response.status_code, "heavy_seconds": round(heavy_s, 2),
            "idle_after_heavy_answered_s": round(idle_s, 2)}


async def hangups(log_dir: Path) -> dict:
    sentences = test_sentences()
    with Server(MODELS, log_dir / "hangups.log") as server:
        cpu_before = server.cpu_seconds()

        async def hang_up(index: int) -> bool:
            async with httpx.AsyncClient(timeout=0.3) as client:
                try:
                    await client.post(server.url + "/translate", json={
                        "texts": sentences[64 * index:64 * (index + 1)], "beam_size": 5, **ROUTE})
                except httpx.TimeoutException:
                    return True
            return False

        hung_up = await asyncio.gather(*(hang_up(i) for i in range(16)))
        left = time.monotonic()
        idle_s = await asyncio.to_thread(server.seconds_until_idle, 60)
        worker_idle = server.metric("translator_worker_busy") == 0
        cancelled = server.metric("translator_cancelled_sentences_total")
        translated = server.metric('translator_sentences_total{model="de-en"}')
        cpu_s = server.cpu_seconds() - cpu_before
        del left
    return {"clients": 16, "sentences_each": 64, "hung_up": sum(hung_up), "idle_after_last_hangup_s": round(idle_s, 2),
            "worker_idle_then": worker_idle, "sentences_cancelled": cancelled,
            "sentences_translated": translated, "server_cpu_s": round(cpu_s, 2)}


SCENARIOS = {"sigterm": sigterm, "fairness": fairness, "hangups": hangups}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append",
                        help="run only this scenario (repeatable; default all)")
    parser.add_argument("--pause-pid", type=int, nargs="*", default=[], help="SIGSTOP these PIDs while timing")
    parser.add_argument("--json-out", default=str(ROOT / "benchmarks/results/operations.json"))
    args = parser.parse_args(argv)
    machine = describe_machine()
    print(machine_line(machine))
    results: dict = {"machine": machine}
    with tempfile.TemporaryDirectory() as logs, paused(args.pause_pid):
        for name in args.scenario or list(SCENARIOS):
            results[name] = asyncio.run(SCENARIOS[name](Path(logs)))
            print(f"{name}: {json.dumps(results[name])}", flush=True)
    Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
