"""A 20-page .docx through the service against the same text through ``POST /translate``, in one run.

Issue 23's target: a document of ~8,000 words translates in under 2x the time its text takes through
``POST /translate`` as plain paragraphs. Both go through one real ``translator-serve`` process (the same model,
its default search, the same batching queue):

- **document**: ``POST /documents/jobs`` with the .docx, polled until done, then the result downloaded
  (upload, reading, segmentation, translation, writing the .docx back and the download all count);
- **plain**: the document's paragraphs as ``texts`` of ``POST /translate`` requests of 64 paragraphs each, sent
  one after another (what a client without document support would do).

Rounds alternate (document, plain, plain, document, ...) so that a machine that drifts affects both; the
figure reported is the median of each and their ratio. ``--pause-pid`` stops other processes (training runs)
for the whole measurement (``benchmarks/pausing.py``).

    python benchmarks/documents_service.py --model models/de-en --text ../shared/data/multi30k/test2016.de \\
        --words 8000 --rounds 3 --json benchmarks/results/documents_service.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from documents import big_docx  # noqa: E402
from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402
from pausing import paused  # noqa: E402
from served import Server  # noqa: E402

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def translate_document(url: str, data: bytes, languages: dict[str, str]) -> tuple[float, bytes]:
    """Seconds from upload to downloaded result for one job, and the result."""
    start = time.perf_counter()
    job = httpx.post(url + "/documents/jobs", files={"file": ("report.docx", data, DOCX)}, data=languages,
                     timeout=120)
    job.raise_for_status()
    job_url = f"{url}/documents/jobs/{job.json()['id']}"
    while (status := httpx.get(job_url, timeout=30).json())["status"] in ("queued", "running"):
        time.sleep(0.05)
    if status["status"] != "done":
        sys.exit(f"the document job ended {status['status']}: {status.get('error')}")
    result = httpx.get(job_url + "/result", timeout=120)
    result.raise_for_status()
    return time.perf_counter() - start, result.content


def translate_plain(url: str, paragraphs: list[str], languages: dict[str, str], per_request: int) -> float:
    """Seconds to translate ``paragraphs`` through POST /translate, ``per_request`` texts at a time."""
    start = time.perf_counter()
    for first in range(0, len(paragraphs), per_request):
        answer = httpx.post(url + "/translate", json={"texts": paragraphs[first:first + per_request],
                                                      "source_lang": languages["source_lang"],
                                                      "target_lang": languages["target_lang"]}, timeout=600)
        answer.raise_for_status()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "de-en")
    parser.add_argument("--source-lang", default="de")
    parser.add_argument("--target-lang", default="en")
    parser.add_argument("--text", type=Path, default=ROOT / "../shared/data/multi30k/test2016.de",
                        help="source-language sentences, one per line, for the generated document")
    parser.add_argument("--words", type=int, default=8000, help="about this many words in the document")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each, alternating")
    parser.add_argument("--per-request", type=int, default=64, help="paragraphs per POST /translate")
    parser.add_argument("--threads", type=int, default=2, help="the server's torch threads (TRANSLATOR_TORCH_THREADS)")
    parser.add_argument("--pause-pid", type=int, action="append", help="SIGSTOP this process while measuring")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    sentences = [line.strip() for line in args.text.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not sentences:
        sys.exit(f"{args.text}: no sentences")
    data, paragraphs = big_docx(sentences, args.words)
    words = sum(len(paragraph.split()) for paragraph in paragraphs)
    languages = {"source_lang": args.source_lang, "target_lang": args.target_lang}
    machine = describe_machine() | {"torch_threads": args.threads}  # the server's, which does the work
    timings: dict[str, list[float]] = {"document": [], "plain": []}
    with tempfile.TemporaryDirectory() as folder, paused(args.pause_pid), \
            Server([args.model], Path(folder) / "server.log", TRANSLATOR_TORCH_THREADS=str(args.threads)) as server:
        translate_plain(server.url, paragraphs[:32], languages, args.per_request)  # warm up both paths
        result = b""
        for round_index in range(args.rounds):
            order = ("document", "plain") if round_index % 2 == 0 else ("plain", "document")
            for kind in order:
                if kind == "document":
                    seconds, result = translate_document(server.url, data, languages)
                else:
                    seconds = translate_plain(server.url, paragraphs, languages, args.per_request)
                timings[kind].append(seconds)
                print(f"round {round_index + 1}: {kind} {seconds:.2f} s", flush=True)
    document_s, plain_s = statistics.median(timings["document"]), statistics.median(timings["plain"])
    report = {
        "machine": machine, "code": code_version(), "model": str(args.model), "words": words,
        "paragraphs": len(paragraphs), "docx_bytes": len(data), "result_bytes": len(result),
        "rounds": args.rounds, "per_request": args.per_request, "seconds": timings,
        "document_median_s": document_s, "plain_median_s": plain_s, "ratio": document_s / plain_s,
        "document_words_per_s": words / document_s, "plain_words_per_s": words / plain_s,
    }
    lines = [machine_line(machine),
             f"{words} words in {len(paragraphs)} paragraphs ({len(data) / 1024:.0f} KiB .docx), {args.model}, "
             f"the server's default search",
             f"POST /documents/jobs (upload to download): median {document_s:.2f} s ({words / document_s:.0f} words/s)",
             f"POST /translate, {args.per_request} paragraphs a request: median {plain_s:.2f} s "
             f"({words / plain_s:.0f} words/s)",
             f"document / plain: {document_s / plain_s:.2f}x (goal < 2x)"]
    print_and_save("\n".join(lines), report, args.json)


if __name__ == "__main__":
    main()
