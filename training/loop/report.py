"""Pictures of a finished run: training/validation curves and attention heatmaps."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on training machines
import matplotlib.pyplot as plt  # noqa: E402

from translator.translate import Alignment, Translator  # noqa: E402


def read_log(path: Path) -> list[dict]:
    """The validation records of a run's ``log.jsonl``."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_curves(records: list[dict], output: Path) -> None:
    """Loss (train and validation) and validation BLEU against the update step."""
    steps = [r["step"] for r in records]
    figure, (loss_axis, bleu_axis) = plt.subplots(1, 2, figsize=(11, 4))
    loss_axis.plot(steps, [r["train_loss"] for r in records], label="train (no smoothing)")
    loss_axis.plot(steps, [r["valid_loss"] for r in records], label="validation")
    loss_axis.set_xlabel("update")
    loss_axis.set_ylabel("cross-entropy per target piece")
    loss_axis.legend()
    bleu_axis.plot(steps, [r["valid_bleu"] for r in records], color="tab:green")
    bleu_axis.set_xlabel("update")
    bleu_axis.set_ylabel("validation BLEU")
    figure.tight_layout()
    figure.savefig(output, dpi=100)
    plt.close(figure)


def plot_alignment(alignment: Alignment, output: Path) -> None:
    """Heatmap of one sentence's attention: target pieces down, source pieces across."""
    width = max(4.0, 0.45 * len(alignment.source_pieces) + 1.5)
    height = max(3.0, 0.35 * len(alignment.target_pieces) + 1.5)
    figure, axis = plt.subplots(figsize=(width, height))
    axis.imshow(alignment.weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    axis.set_xticks(range(len(alignment.source_pieces)), alignment.source_pieces, rotation=90)
    axis.set_yticks(range(len(alignment.target_pieces)), alignment.target_pieces)
    figure.tight_layout()
    figure.savefig(output, dpi=100)
    plt.close(figure)


def write_plots(run_dir: Path, sentences: list[str]) -> list[Path]:
    """Write ``curves.png`` and ``attention_<i>.png`` (best checkpoint) into ``run_dir``."""
    written = []
    records = read_log(run_dir / "log.jsonl")
    if records:
        plot_curves(records, run_dir / "curves.png")
        written.append(run_dir / "curves.png")
    if sentences and (run_dir / "best").exists():
        translator = Translator.from_pretrained(run_dir / "best", device="cpu")
        results = translator.translate_detailed(sentences, beam_size=5, return_attention=True)
        for index, result in enumerate(results):
            if result.alignment is not None:
                path = run_dir / f"attention_{index}.png"
                plot_alignment(result.alignment, path)
                written.append(path)
    return written
