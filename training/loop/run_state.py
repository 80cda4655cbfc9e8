"""What a run keeps on disk besides its log: ``last/`` (everything exact resume needs),
``snapshots/step-N`` (weights of recent validations) and the metadata written into each."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from training.config import TrainConfig, portable_path
from training.data.prepare import save_tokenizers
from translator import __version__
from translator.text.casing import CaseRestorer
from translator.store.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from translator.model.seq2seq import Seq2Seq
from translator.text.tokenizer import Tokenizer

STATE_FILE = "training_state.pt"


@dataclass
class TrainingState:
    """Everything besides weights and optimiser that resume needs."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    lr_scale: float = 1.0
    best_bleu: float = -1.0
    validations_without_improvement: int = 0
    validations_since_decay: int = 0
    stopped_early: bool = False  # patience ran out or the lr decayed away; resume will not continue
    warm_start_step: int = 0  # the step of the checkpoint a warm-started run began from (lr warms up again)
    warm_start: dict[str, Any] | None = None  # what that checkpoint was trained on (see warm_start_record)


def metadata(config: TrainConfig, state: TrainingState, scores: dict[str, float]) -> dict[str, Any]:
    """The metadata.json of a checkpoint written at ``state`` with validation ``scores``."""
    return {
        "source_language": config.data.src_lang,
        "target_language": config.data.tgt_lang,
        "training_data": {
            "name": config.data.name,
            "terms": config.data.terms,
            "domain": config.data.domain,
            **_training_files(config),
        },
        "training": {"step": state.step, "epoch": state.epoch, "lr_scale": state.lr_scale,
                     "trainer_version": __version__,
                     **({"warm_start": state.warm_start} if state.warm_start is not None else {})},
        "validation": scores,
        "validation_selection": config.data.selection_rule(),
    }


def _training_files(config: TrainConfig) -> dict[str, Any]:
    """The files trained on: ``train_src``/``train_tgt``, or the mixture's corpora with their weights."""
    if not config.data.corpora:
        return {"train_src": portable_path(config.data.train_src), "train_tgt": portable_path(config.data.train_tgt)}
    return {"corpora": [{"name": c.name, "src": portable_path(c.src), "tgt": portable_path(c.tgt), "weight": c.weight}
                        for c in config.data.corpora]}


def save_last(run_dir: Path, model: Seq2Seq, optimizer: torch.optim.Optimizer, state: TrainingState,
              tokenizers: tuple[Tokenizer, Tokenizer], config: TrainConfig) -> None:
    """Write ``last/`` with everything needed to resume exactly here (atomically)."""
    payload = {
        "state": state.__dict__,
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
    }
    save_checkpoint(run_dir / "last", model, *tokenizers, metadata(config, state, {}),
                    write_extra=lambda staging: torch.save(payload, staging / STATE_FILE),
                    case_restorer=CaseRestorer.load(run_dir))


def save_snapshot(run_dir: Path, model: Seq2Seq, tokenizers: tuple[Tokenizer, Tokenizer], config: TrainConfig,
                  state: TrainingState, scores: dict[str, float]) -> None:
    """Keep this validation's weights in ``snapshots/step-N``; only the newest ``keep_snapshots`` stay."""
    snapshots = run_dir / "snapshots"
    save_checkpoint(snapshots / f"step-{state.step:08d}", model, *tokenizers, metadata(config, state, scores),
                    half_precision=config.train.save_half_precision, case_restorer=CaseRestorer.load(run_dir))
    for old in sorted(p for p in snapshots.iterdir() if p.name.startswith("step-"))[: -config.train.keep_snapshots]:
        shutil.rmtree(old)


def load_last(run_dir: Path, model: Seq2Seq, optimizer: torch.optim.Optimizer) -> TrainingState:
    """Restore weights, optimiser, RNGs and the :class:`TrainingState` saved by :func:`save_last`."""
    checkpoint = load_checkpoint(run_dir / "last")
    model.load_state_dict(checkpoint.model.state_dict())
    payload = torch.load(run_dir / "last" / STATE_FILE, weights_only=True)
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["torch_rng"])
    random.setstate(_to_tuple(payload["python_rng"]))
    known = TrainingState.__dataclass_fields__
    return TrainingState(**{k: v for k, v in payload["state"].items() if k in known})


def warm_start(run_dir: Path, source: Path) -> Checkpoint:
    """Load (verified) the checkpoint a new run starts from, and write its tokenizers and casing
    table into ``run_dir`` so that the run's data is prepared with them (before ``prepare_data``)."""
    checkpoint = load_checkpoint(source)
    save_tokenizers(run_dir, (checkpoint.source_tokenizer, checkpoint.target_tokenizer))
    if checkpoint.case_restorer:
        checkpoint.case_restorer.save(run_dir)
    return checkpoint


def load_warm_start(checkpoint: Checkpoint, source: Path, model: Seq2Seq) -> TrainingState:
    """Put ``checkpoint``'s weights into ``model`` and continue counting from its step and lr decay.

    Raises:
        CheckpointError: if its model differs from the configured one.
    """
    if checkpoint.model.config != model.config:
        raise CheckpointError(f"train.init_from: {source} holds a different model ({checkpoint.model.config}) "
                              f"from the configured one ({model.config})")
    model.load_state_dict({name: tensor.float() for name, tensor in checkpoint.model.state_dict().items()})
    training = checkpoint.metadata.get("training", {})
    step = int(training.get("step", 0))
    return TrainingState(step=step, epoch=int(training.get("epoch", 0)),
                         lr_scale=float(training.get("lr_scale", 1.0)), warm_start_step=step,
                         warm_start=warm_start_record(source, checkpoint.metadata))


def warm_start_record(source: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """What a warm-started run's checkpoints say of the checkpoint it began from (``training.warm_start`` in their
    metadata): its path, step, data and mixture weights, and in turn its own warm start. A model trained in
    phases (a general mixture, then a caption-heavy one) so names every phase's data, not only the last."""
    training = metadata.get("training") or {}
    return {"checkpoint": portable_path(source), "step": int(training.get("step", 0)),
            "training_data": metadata.get("training_data"),
            **({"warm_start": training["warm_start"]} if training.get("warm_start") else {})}


def _to_tuple(value: Any) -> Any:
    return tuple(_to_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value
