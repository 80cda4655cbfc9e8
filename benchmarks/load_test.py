"""Load test of the translation service over loopback: throughput, latency percentiles, errors, memory.

Starts ``translator-serve`` on a free loopback port (or uses ``--url`` of one already running on this
machine), drives it with N concurrent clients for a fixed time, and prints a table; the same numbers,
with the hardware and settings, go to a JSON file. The server's own /metrics show how many sentences
and requests each model call merged.

    python benchmarks/load_test.py --models-root models --clients 64 --duration 30
    python benchmarks/load_test.py --model-dir /tmp/tiny/xx-yy --clients 16 --duration 10

Only loopback addresses are accepted as targets; every loop stops at the deadline. ``--code PATH`` starts the
server of another checkout (its ``service`` and ``translator`` packages), which is how
``benchmarks/before_after.py`` compares two versions of the code in one sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pausing  # noqa: E402

SAMPLE_SENTENCES = {
    "de": ["Ein Mann fährt mit dem Fahrrad die Straße entlang.", "Zwei Hunde spielen im Schnee.",
           "Eine Frau liest ein Buch im Park.", "Kinder spielen Fußball auf einer Wiese.",
           "Ein Mann in einem roten Hemd steht vor einem Gebäude und spricht mit zwei Frauen."],
    "en": ["A man rides a bike down the street.", "Two dogs are playing in the snow.",
           "A woman is reading a book in the park.", "Children play soccer on a field.",
           "A man in a red shirt stands in front of a building and talks to two women."],
}
MAX_DURATION_S = 600
ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``; 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def require_loopback(url: str) -> None:
    """Refuse any target that is not this machine's loopback interface."""
    host = urlparse(url).hostname or ""
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        sys.exit(f"load_test: {url} is not a loopback address; this script only drives a server on this machine")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen:
    """``translator-serve`` of the checkout ``args.code`` on 127.0.0.1:port with the given models (other settings
    from the environment)."""
    command = [sys.executable, "-m", "service.cli", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning"]
    for directory in args.model_dir or []:
        command += ["--model-dir", directory]
    if args.models_root:
        command += ["--models-root", args.models_root]
    # ``python -m`` puts the working directory first on sys.path, so the checkout is both cwd and PYTHONPATH
    env = {**os.environ, "PYTHONPATH": str(args.code)}
    return subprocess.Popen(command, cwd=args.code, env=env)


async def wait_ready(client: httpx.AsyncClient, server: subprocess.Popen | None, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            sys.exit(f"load_test: the server exited with code {server.returncode}")
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.25)
    sys.exit("load_test: the server was not ready in time")


def batch_stats(metrics_text: str) -> dict[str, float]:
    """Sums and counts of the batch histograms from a /metrics page."""
    wanted = ("translator_batch_sentences_sum", "translator_batch_sentences_count", "translator_batch_requests_sum")
    values = {}
    for line in metrics_text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            values[name] = float(value)
    return values


def peak_rss_mb(pid: int | None) -> float | None:
    """Peak resident memory (VmHWM) of a process on this machine, in MiB."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Connection:
    """One keep-alive HTTP/1.1 connection per simulated client.

    Written on asyncio streams rather than a shared httpx pool, whose bookkeeping at 64 concurrent
    requests costs more CPU than the server under test and would make the client the bottleneck.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: dict) -> int:
        """POST ``body`` and read the whole answer; returns the status code."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = json.dumps(body).encode()
        self.writer.write((f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(payload)}\r\n{self.extra}\r\n").encode() + payload)
        await self.writer.drain()
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def drive(args: argparse.Namespace, url: str, headers: dict[str, str], sentences: list[str],
                body_extra: dict) -> tuple[list[float], dict[str, int], float]:
    """Run ``args.clients`` client loops until the deadline; return latencies, status counts and wall time."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    started = time.perf_counter()
    deadline = started + args.duration

    async def one_client(seed: int) -> None:
        rng = random.Random(seed)
        connection = Connection(url, headers)
        while time.perf_counter() < deadline:
            texts = [rng.choice(sentences) for _ in range(args.texts_per_request)]
            sent = time.perf_counter()
            try:
                key = str(await connection.post_json("/translate", {"texts": texts, **body_extra}))
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                key = type(error).__name__
                await connection.close()
            if key == "200":
                latencies.append(time.perf_counter() - sent)
            statuses[key] = statuses.get(key, 0) + 1
        await connection.close()

    await asyncio.gather(*(one_client(seed) for seed in range(args.clients)))
    return latencies, statuses, time.perf_counter() - started


async def run(args: argparse.Namespace) -> dict:
    server = None
    url = args.url
    if url is None:
        url = f"http://127.0.0.1:{free_port()}"
        server = start_server(args, int(url.rsplit(":", 1)[1]))
    require_loopback(url)
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
            await wait_ready(client, server)
            models = (await client.get("/models")).json()["models"]
            model = next((m for m in models if m["name"] == args.model), models[0])
            sentences = (Path(args.sentences).read_text(encoding="utf-8").splitlines() if args.sentences
                         else SAMPLE_SENTENCES.get(model["source_lang"], ["a b c d", "e f g", "h a b c d e f"]))
            sentences = [s for s in sentences if s.strip()]
            body_extra = {"model": model["name"], "beam_size": args.beam_size}
            before = batch_stats((await client.get("/metrics")).text)
            with pausing.paused(args.pause_pid):
                latencies, statuses, wall = await drive(args, url, headers, sentences, body_extra)
            after = batch_stats((await client.get("/metrics")).text)
    finally:
        memory = peak_rss_mb(server.pid if server else args.server_pid)
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    calls = after.get("translator_batch_sentences_count", 0) - before.get("translator_batch_sentences_count", 0)
    ok = statuses.get("200", 0)
    return {
        "target": url, "model": model["name"], "clients": args.clients, "duration_s": round(wall, 2),
        "texts_per_request": args.texts_per_request, "beam_size": args.beam_size,
        "requests_ok": ok, "errors": {k: v for k, v in statuses.items() if k != "200"},
        "throughput_rps": round(ok / wall, 2), "sentences_per_s": round(ok * args.texts_per_request / wall, 2),
        "latency_ms": {name: round(1000 * percentile(latencies, q), 1)
                       for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))}
        | {"mean": round(1000 * statistics.fmean(latencies), 1) if latencies else 0.0},
        "model_calls": int(calls),
        "sentences_per_model_call": round((after.get("translator_batch_sentences_sum", 0)
                                           - before.get("translator_batch_sentences_sum", 0)) / calls, 2) if calls else 0,
        "requests_per_model_call": round((after.get("translator_batch_requests_sum", 0)
                                          - before.get("translator_batch_requests_sum", 0)) / calls, 2) if calls else 0,
        "server_peak_rss_mb": round(memory, 1) if memory else None,
        "paused_pids": args.pause_pid, "paused_seconds": round(pausing.total_paused_seconds, 1),
        "hardware": {"cpu": _cpu_name(), "cores": os.cpu_count(), "machine": platform.machine()},
        "server_settings": {k: v for k, v in os.environ.items() if k.startswith("TRANSLATOR_") and "KEY" not in k},
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_table(result: dict) -> None:
    rows = [
        ("model", result["model"]), ("clients", result["clients"]), ("duration (s)", result["duration_s"]),
        ("texts per request", result["texts_per_request"]), ("beam size", result["beam_size"]),
        ("requests ok", result["requests_ok"]), ("errors", result["errors"] or "none"),
        ("throughput (req/s)", result["throughput_rps"]), ("sentences/s", result["sentences_per_s"]),
        ("latency p50 (ms)", result["latency_ms"]["p50"]), ("latency p95 (ms)", result["latency_ms"]["p95"]),
        ("latency p99 (ms)", result["latency_ms"]["p99"]), ("model calls", result["model_calls"]),
        ("sentences per model call", result["sentences_per_model_call"]),
        ("requests per model call", result["requests_per_model_call"]),
        ("server peak RSS (MiB)", result["server_peak_rss_mb"]),
        ("hardware", f"{result['hardware']['cpu']}, {result['hardware']['cores']} cores"),
    ]
    width = max(len(name) for name, _ in rows)
    print("| " + "metric".ljust(width) + " | value |")
    print("|" + "-" * (width + 2) + "|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_argument_group("target (default: start translator-serve on the models under models/)")
    target.add_argument("--url", help="a running server on this machine, e.g. http://127.0.0.1:8000")
    target.add_argument("--server-pid", type=int, help="with --url: the server's PID, to report its peak memory")
    target.add_argument("--model-dir", action="append", help="start the server on this checkpoint (repeatable)")
    target.add_argument("--models-root", help="start the server on every checkpoint under this directory")
    target.add_argument("--code", type=Path, default=ROOT,
                        help="start the server of this checkout (default: the one this script is in)")
    target.add_argument("--api-key", default=os.environ.get("TRANSLATOR_API_KEY"), help="key to send, if any")
    load = parser.add_argument_group("load")
    load.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    load.add_argument("--duration", type=float, default=30, help=f"seconds of load, at most {MAX_DURATION_S} "
                      "(default 30)")
    load.add_argument("--texts-per-request", type=int, default=1, help="texts in each request (default 1)")
    load.add_argument("--beam-size", type=int, default=5, help="beam size of every request (default 5)")
    load.add_argument("--model", help="model name to use (default: the first one /models lists)")
    load.add_argument("--sentences", help="a file of sentences, one a line (default: built-in samples)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process (e.g. a training run) while the load runs; repeatable")
    parser.add_argument("--json-out", "--json", default="benchmarks/results/load_test.json", help="where to write JSON")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_S or args.clients < 1 or args.texts_per_request < 1:
        parser.error(f"need 0 < --duration <= {MAX_DURATION_S}, --clients >= 1 and --texts-per-request >= 1")
    result = asyncio.run(run(args))
    print_table(result)
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
