"""Soak: minutes of mixed load on a real translator-serve, with hang-ups, heavy requests and a hot reload.

32 clients for ``--duration`` seconds (default 600) on copies of the shipped models: 24 send 1-4
test2016 sentences (beam 5), 4 send 16 sentences and hang up after 0.3 s, 4 send heavy requests (32
sentences with beam 12, or a 2,000-character word with max_output_length 512); each pauses between
requests (``PAUSE_S``) so the load stays below capacity. Halfway,
a new version of de-en (one weight nudged, so its manifest and version change) is swapped into its
directory and the server gets SIGHUP. Reports answers by status (no 5xx allowed), the reload (the
version /models shows before and after), and the server's RSS sampled every 5 s: growth is measured
from the end of the warm-up (the first ``--warmup`` seconds) to the end. Not a CI test: it runs minutes.

Prints a summary and writes JSON (default benchmarks/results/soak.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import string
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, machine_line  # noqa: E402
from pausing import paused  # noqa: E402
from served import ROOT, Server, test_sentences  # noqa: E402

from translator.store.checkpoint import load_checkpoint, read_metadata, save_checkpoint  # noqa: E402

ROUTE = {"source_lang": "de", "target_lang": "en"}
# Pauses between a client's requests: the offered load stays below what the server can answer within
# its 30 s timeout (past capacity, 503 "queue full" and 504 are the designed answers, not failures).
PAUSE_S = {"normal": 0.5, "hangup": 1.0, "heavy": 5.0}


def stage_new_version(directory: Path, staging: Path) -> None:
    """Write a new version of ``directory``'s model (one weight nudged) and swap it in by renames."""
    checkpoint = load_checkpoint(directory)
    with torch.no_grad():
        next(checkpoint.model.parameters()).view(-1)[0] += 1e-3
    save_checkpoint(staging, checkpoint.model, checkpoint.source_tokenizer, checkpoint.target_tokenizer,
                    read_metadata(directory))
    retired = directory.with_name(directory.name + ".retired")
    directory.rename(retired)
    staging.rename(directory)


async def soak(args: argparse.Namespace, work: Path) -> dict:
    models = []
    for name in ("de-en", "en-de"):
        shutil.copytree(ROOT / "models" / name, work / "models" / name)
        models.append(work / "models" / name)
    sentences = test_sentences()
    rng = random.Random(0)
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(2000))
    statuses: Counter = Counter()
    by_role: dict[str, Counter] = {"normal": Counter(), "hangup": Counter(), "heavy": Counter()}
    with Server(models, work / "server.log") as server:
        end = time.monotonic() + args.duration
        started = time.monotonic()
        rss: list[tuple[float, float]] = []

        async def client(role: str, seed: int) -> None:
            local = random.Random(seed)
            timeout = 0.3 if role == "hangup" else 120
            async with httpx.AsyncClient(timeout=timeout) as http:
                while time.monotonic() < end:
                    if role == "normal":
                        start = local.randrange(len(sentences) - 4)
                        body = {"texts": sentences[start:start + local.randint(1, 4)], "beam_size": 5}
                    elif role == "hangup":
                        start = local.randrange(len(sentences) - 16)
                        body = {"texts": sentences[start:start + 16], "beam_size": 5}
                    elif local.random() < 0.5:
                        start = local.randrange(len(sentences) - 32)
                        body = {"texts": sentences[start:start + 32], "beam_size": 12}
                    else:
                        body = {"text": word, "beam_size": 12, "max_output_length": 512}
                    try:
                        response = await http.post(server.url + "/translate", json={**body, **ROUTE})
                        outcome: object = response.status_code
                    except httpx.TimeoutException:
                        outcome = "hung up" if role == "hangup" else "client timeout"
                    except httpx.TransportError as error:
                        outcome = type(error).__name__
                    statuses[outcome] += 1
                    by_role[role][outcome] += 1
                    await asyncio.sleep(PAUSE_S[role])

        async def sample_memory() -> None:
            while time.monotonic() < end:
                rss.append((round(time.monotonic() - started, 1), server.rss_mib()))
                await asyncio.sleep(5)

        async def reload_halfway() -> dict:
            await asyncio.sleep(args.duration / 2)
            before = httpx.get(server.url + "/models").json()["models"]
            await asyncio.to_thread(stage_new_version, models[0], work / "staging")
            server.signal(signal.SIGHUP)
            sent = time.monotonic()
            while time.monotonic() - sent < 120:
                after = (await asyncio.to_thread(httpx.get, server.url + "/models")).json()["models"]
                if after[0]["version"] != before[0]["version"]:
                    return {"model": before[0]["name"], "version_before": before[0]["version"],
                            "version_after": after[0]["version"], "seconds_to_swap": round(time.monotonic() - sent, 1)}
                await asyncio.sleep(0.5)
            return {"model": before[0]["name"], "version_before": before[0]["version"], "swapped": False}

        roles = ["normal"] * 24 + ["hangup"] * 4 + ["heavy"] * 4
        results = await asyncio.gather(reload_halfway(), sample_memory(),
                                       *(client(role, seed) for seed, role in enumerate(roles)))
        reload = results[0]
        final_rss = server.rss_mib()
        cancelled = server.metric("translator_cancelled_sentences_total")
        preemptions = server.metric("translator_preemptions_total")
        log = (work / "server.log").read_text(errors="replace")
    after_warmup = [value for seconds, value in rss if seconds >= args.warmup]
    baseline = after_warmup[0] if after_warmup else rss[0][1]
    five_xx = sum(n for status, n in statuses.items() if isinstance(status, int) and status >= 500)
    return {
        "duration_s": args.duration, "clients": len(roles), "answers": {str(k): v for k, v in statuses.items()},
        "by_role": {role: {str(k): v for k, v in counts.items()} for role, counts in by_role.items()},
        "responses_5xx": five_xx, "reload": reload,
        "reload_log_lines": [line for line in log.splitlines() if "reload" in line],
        "rss_mib_after_warmup": round(baseline, 1), "rss_mib_end": round(final_rss, 1),
        "rss_mib_max_after_warmup": round(max(after_warmup or [baseline]), 1),
        "rss_growth_after_warmup_pct": round(100 * (final_rss - baseline) / baseline, 1),
        "rss_samples": rss, "sentences_cancelled": cancelled, "preemptions": preemptions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before RSS growth is measured (default 60)")
    parser.add_argument("--pause-pid", type=int, nargs="*", default=[], help="SIGSTOP these PIDs while it runs")
    parser.add_argument("--json-out", default=str(ROOT / "benchmarks/results/soak.json"))
    args = parser.parse_args(argv)
    machine = describe_machine()
    print(machine_line(machine))
    with tempfile.TemporaryDirectory() as work, paused(args.pause_pid):
        result = asyncio.run(soak(args, Path(work)))
    summary = {key: value for key, value in result.items() if key != "rss_samples"}
    print(json.dumps(summary, indent=2))
    Path(args.json_out).write_text(json.dumps({"machine": machine, **result}, indent=2) + "\n")
    print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
