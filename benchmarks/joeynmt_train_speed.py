"""Training throughput of JoeyNMT 2.3 on the shipped setup, beside ours, measured in one run.

1. Makes (once) a virtualenv outside the repository with ``pip install torch==2.13.0
   joeynmt==2.3.0 importlib-metadata sentencepiece==0.2.0`` and checks that the torch it got is
   a CPU build; JoeyNMT never becomes a dependency of this project. The two extra pins make
   JoeyNMT 2.3.0 run at all: it imports ``importlib_metadata`` without declaring it, and it calls
   ``SentencePieceProcessor.SetVocabulary``, which sentencepiece 0.2.1 and later no longer have.
2. Runs ``benchmarks/train_speed.py`` (our trainer's step, 128-sentence batches), once per
   ``--our-precision`` (fp32 and/or bf16 autocast; default: the config's ``train.precision``), each
   in its own process with the trainer's process settings (``train.keep_freed_memory``, which
   ``--keep-freed-memory``/``--no-keep-freed-memory`` override).
3. Writes ``joeynmt_multi30k_gru.yaml`` (the same model, data, sentencepiece models and batch size)
   into a temporary directory, trains JoeyNMT for ``--steps`` updates and reads the "Tokens per Sec"
   of its log lines, dropping the first logging window (start-up and warm-up).

Both count target tokens the same way: sentencepiece pieces plus EOS, padding excluded. Both runs
are bracketed by a short fp32 matmul measurement, as this machine's speed drifts, and the table
also compares tokens/s per matmul GFLOP/s.

Usage::

    python benchmarks/joeynmt_train_speed.py --model models/de-en --json benchmarks/results/joeynmt_train_speed.json
    python benchmarks/joeynmt_train_speed.py --model models/de-en --our-precision fp32 bf16
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from string import Template

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pausing  # noqa: E402
from hardware import code_version, describe_machine, machine_line, matmul_gflops, print_and_save  # noqa: E402

from translator.text.tokenizer import SPECIAL_IDS, Tokenizer  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data" / "multi30k"
TOKENS_PER_SEC = re.compile(r"Step:\s*(\d+).*Tokens per Sec:\s*([\d.]+)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/de-en"),
                        help="model directory whose sentencepiece models both toolkits use (default: models/de-en)")
    parser.add_argument("--venv", type=Path, default=Path.home() / "joeynmt-venv",
                        help="virtualenv for JoeyNMT, created if missing (default: ~/joeynmt-venv)")
    parser.add_argument("--torch-spec", default="torch==2.13.0",
                        help="pip requirement for torch in that venv; must resolve to a CPU build")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="directory with train/val .de/.en files")
    parser.add_argument("--steps", type=int, default=100, help="JoeyNMT updates to train (default: 100)")
    parser.add_argument("--logging-freq", type=int, default=10, help="JoeyNMT logging interval (default: 10)")
    parser.add_argument("--our-steps", type=int, default=30, help="timed steps of train_speed.py (default: 30)")
    parser.add_argument("--our-precision", nargs="+", choices=["fp32", "bf16"],
                        help="train.precision of our runs, one train_speed.py run each, e.g. 'fp32 bf16' "
                        "(default: one run with the config's)")
    parser.add_argument("--keep-freed-memory", action=argparse.BooleanOptionalAction,
                        help="train.keep_freed_memory of our runs (default: the config's)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process (e.g. a training run) while timing; repeatable")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def ensure_venv(venv: Path, torch_spec: str) -> Path:
    """The venv's python, with torch (CPU build) and joeynmt 2.3.0 installed."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = (
        "import joeynmt, joeynmt.training, sentencepiece, torch; "
        "assert hasattr(sentencepiece.SentencePieceProcessor, 'SetVocabulary'); "
        "print(joeynmt.__version__, torch.__version__, torch.version.cuda)"
    )
    installed = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    if installed.returncode != 0 or not installed.stdout.startswith("2.3.0 "):
        packages = [torch_spec, "joeynmt==2.3.0", "importlib-metadata", "sentencepiece==0.2.0"]
        print(f"installing {' '.join(packages)} into {venv}", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
        installed = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    joeynmt_version, torch_version, cuda = installed.stdout.split()
    listed = subprocess.run([str(python), "-m", "pip", "list"], capture_output=True, text=True).stdout
    if cuda != "None" or "nvidia-" in listed:
        raise RuntimeError(
            f"{venv} got a CUDA build of torch ({torch_version}, CUDA {cuda}); remove it and rerun with "
            "--torch-spec pointing at a CPU build, e.g. 'torch==2.13.0+cpu' with "
            "PIP_EXTRA_INDEX_URL set to the PyTorch CPU index"
        )
    return python


def write_vocabulary(tokenizer: Tokenizer, path: Path) -> int:
    """JoeyNMT vocabulary file: one piece a line, our special pieces left out (JoeyNMT adds its own)."""
    pieces = tokenizer.id_to_piece(i for i in range(tokenizer.vocab_size) if i not in SPECIAL_IDS)
    path.write_text("\n".join(pieces) + "\n", encoding="utf-8")
    return len(pieces)


def run_ours(args: argparse.Namespace, work_dir: Path, precision: str | None) -> dict:
    """Run train_speed.py at ``precision`` (None: the config's) and return its JSON."""
    output = work_dir / f"ours-{precision or 'config'}.json"
    command = [sys.executable, str(HERE / "train_speed.py"), "--model", str(args.model),
               "--steps", str(args.our_steps), "--json", str(output)]
    if precision:
        command += ["--precision", precision]
    if args.keep_freed_memory is not None:
        command.append("--keep-freed-memory" if args.keep_freed_memory else "--no-keep-freed-memory")
    for pid in args.pause_pid:
        command += ["--pause-pid", str(pid)]
    subprocess.run(command, check=True)
    return json.loads(output.read_text(encoding="utf-8"))


def run_joeynmt(python: Path, args: argparse.Namespace, work_dir: Path) -> dict:
    """Train JoeyNMT for ``args.steps`` updates; its logged tokens/s per window."""
    model_dir = args.model.resolve()
    write_vocabulary(Tokenizer.load(model_dir / "source.spm"), work_dir / "src_vocab.txt")
    write_vocabulary(Tokenizer.load(model_dir / "target.spm"), work_dir / "trg_vocab.txt")
    config = Template((HERE / "joeynmt_multi30k_gru.yaml").read_text(encoding="utf-8")).substitute(
        work_dir=work_dir, data_dir=args.data_dir.resolve(), model_dir=model_dir,
        steps=args.steps, logging_freq=args.logging_freq,
    )
    config_path = work_dir / "config.yaml"
    config_path.write_text(config, encoding="utf-8")
    threads = subprocess.run([str(python), "-c", "import torch; print(torch.get_num_threads())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    windows: list[tuple[int, float]] = []
    log_lines: list[str] = []
    with pausing.paused(args.pause_pid):
        gflops_before = matmul_gflops(seconds=0.15, trials=3)["gflops_median"]
    with contextlib.ExitStack() as pause:
        process = subprocess.Popen(
            [str(python), "-m", "joeynmt", "train", str(config_path), "--skip-test"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work_dir,
        )
        try:
            for line in process.stdout:
                log_lines.append(line)
                if "EPOCH 1" in line:  # set-up done: pause competitors for the training steps only
                    pause.enter_context(pausing.paused(args.pause_pid))
                match = TOKENS_PER_SEC.search(line)
                if match:
                    windows.append((int(match.group(1)), float(match.group(2))))
                    print(f"  JoeyNMT step {match.group(1)}: {match.group(2)} tokens/s", flush=True)
            returncode = process.wait()
            gflops_after = matmul_gflops(seconds=0.15, trials=3)["gflops_median"]
        finally:
            if process.poll() is None:
                process.kill()
    (work_dir / "joeynmt_stdout.log").write_text("".join(log_lines), encoding="utf-8")
    if returncode != 0 or len(windows) < 2:
        tail = "".join(log_lines[-30:])
        raise RuntimeError(f"JoeyNMT training failed (exit {returncode}); last lines:\n{tail}")
    timed = [rate for _, rate in windows[1:]]
    gflops = (gflops_before + gflops_after) / 2
    return {
        "version": "2.3.0",
        "torch_threads": int(threads),
        "steps": args.steps,
        "logging_freq": args.logging_freq,
        "windows": [{"step": step, "tokens_per_second": rate} for step, rate in windows],
        "target_tokens_per_second_mean": statistics.mean(timed),
        "target_tokens_per_second_median": statistics.median(timed),
        "matmul_gflops_beside": gflops,
        "target_tokens_per_second_per_gflops": statistics.mean(timed) / gflops,
        "config": config,
    }


def format_table(results: dict) -> str:
    """Ours and JoeyNMT's target tokens/s side by side."""
    joey = results["joeynmt"]["target_tokens_per_second_mean"]
    joey_norm = results["joeynmt"]["target_tokens_per_second_per_gflops"]
    lines = [
        f"Hardware: {machine_line(results['machine'])}",
        "Setup: Multi30k de-en, GRU, emb 256, bi-encoder 2x256, decoder 512, Bahdanau attention, "
        "sentencepiece 8k, 128 sentences/batch",
        "",
        "| trainer | batching | steps timed | target tokens/s | x JoeyNMT | matmul GFLOP/s beside "
        "| tokens/s per GFLOP/s | x JoeyNMT per GFLOP/s |",
        "|---|---|---|---|---|---|---|---|",
        f"| JoeyNMT 2.3.0 | random (its sampler) | {results['joeynmt']['steps'] - results['joeynmt']['logging_freq']} "
        f"| {joey:.0f} | 1.00 | {results['joeynmt']['matmul_gflops_beside']:.0f} | {joey_norm:.2f} | 1.00 |",
    ]
    for ours in results["ours"]:
        memory = "" if ours["keep_freed_memory"] else ", freed memory returned"
        for row in ours["rows"]:
            norm = row["target_tokens_per_second_per_gflops"]
            lines.append(
                f"| ours (train_speed.py, {ours['precision']}{memory}) | {row['batching']} | {row['steps']} "
                f"| {row['target_tokens_per_second']:.0f} | {row['target_tokens_per_second'] / joey:.2f} "
                f"| {row['matmul_gflops_beside']:.0f} | {norm:.2f} | {norm / joey_norm:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    python = ensure_venv(args.venv, args.torch_spec)
    machine = describe_machine()
    print(machine_line(machine), flush=True)
    with tempfile.TemporaryDirectory(prefix="joeynmt-speed-") as tmp:
        work_dir = Path(tmp)
        ours = [run_ours(args, work_dir, precision) for precision in args.our_precision or [None]]
        joeynmt = run_joeynmt(python, args, work_dir)
    results = {
        "benchmark": "joeynmt_train_speed",
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": machine,
        "code": code_version(),
        "our_settings": [{"precision": run["precision"], "keep_freed_memory": run["keep_freed_memory"],
                          "keep_freed_memory_in_effect": run["keep_freed_memory_in_effect"],
                          "torch_threads": run["torch_threads"]} for run in ours],
        "joeynmt": joeynmt,
        "ours": ours,
        "ratio_ours_random_to_joeynmt": {
            run["precision"]: row["target_tokens_per_second"] / joeynmt["target_tokens_per_second_mean"]
            for run in ours for row in run["rows"] if row["batching"] == "random"},
        "paused_pids": args.pause_pid,
        "joeynmt_paused_seconds": pausing.total_paused_seconds,
        "paused_seconds_total": pausing.total_paused_seconds + sum(run["paused_seconds"] for run in ours),
    }
    print_and_save(format_table(results), results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
