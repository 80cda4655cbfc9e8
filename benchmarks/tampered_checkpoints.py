"""Tampered copies of a shipped model: are they refused, in one line naming the file?

For each kind of damage (NaN weights with a consistent manifest, one flipped byte in the weights,
``source.spm`` and ``target.spm`` swapped, no manifest), a copy of the model directory is damaged,
then loaded with the library (``load_checkpoint``) and served with the real ``translator-serve``
command. Prints a table and writes JSON (not timed: the figures are refusals and line counts).

    python benchmarks/tampered_checkpoints.py models/de-en --json benchmarks/results/tampered_checkpoints.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from safetensors.torch import load_file, save_file

from translator.store.checkpoint import CheckpointError, load_checkpoint, write_manifest


def nan_weights(directory: Path) -> None:
    """One weight set to NaN, the manifest rewritten so the hashes agree (only finiteness can catch it)."""
    weights = load_file(directory / "model.safetensors")
    name = sorted(weights)[0]
    weights[name].view(-1)[0] = float("nan")
    save_file(weights, directory / "model.safetensors")
    write_manifest(directory)


def flipped_byte(directory: Path) -> None:
    """One bit flipped in the middle of the weights: still a well-formed safetensors file."""
    path = directory / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def swapped_tokenizers(directory: Path) -> None:
    """source.spm and target.spm exchanged."""
    source, target = (directory / "source.spm").read_bytes(), (directory / "target.spm").read_bytes()
    (directory / "source.spm").write_bytes(target)
    (directory / "target.spm").write_bytes(source)


def no_manifest(directory: Path) -> None:
    """A checkpoint written before manifests existed."""
    (directory / "manifest.json").unlink()


DAMAGES: dict[str, Callable[[Path], None]] = {
    "nan_weights": nan_weights, "flipped_byte": flipped_byte, "swapped_tokenizers": swapped_tokenizers,
    "no_manifest": no_manifest,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="a verified model directory, e.g. models/de-en")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    load_checkpoint(args.model_dir)  # the untouched model must load
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind, damage in DAMAGES.items():
            directory = Path(scratch) / kind / args.model_dir.name
            shutil.copytree(args.model_dir, directory)
            damage(directory)
            try:
                load_checkpoint(directory)
                library = "LOADED"
            except CheckpointError as error:
                library = str(error)
            served = subprocess.run([sys.executable, "-m", "service.cli", "--model-dir", str(directory)],
                                    capture_output=True, text=True, timeout=300)
            stderr_lines = served.stderr.strip().splitlines()
            rows.append({
                "damage": kind, "library_refused": library != "LOADED", "library_error": library,
                "serve_exit_code": served.returncode, "serve_stderr_lines": len(stderr_lines),
                "serve_stderr": served.stderr.strip(),
            })
    for row in rows:
        print(f"{row['damage']:<20} library refused: {row['library_refused']}  translator-serve exit "
              f"{row['serve_exit_code']}, {row['serve_stderr_lines']} line(s): {row['serve_stderr']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model_dir": str(args.model_dir), "results": rows}, indent=2) + "\n")
    return 0 if all(r["library_refused"] and r["serve_stderr_lines"] == 1 and r["serve_exit_code"] == 2
                    for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
