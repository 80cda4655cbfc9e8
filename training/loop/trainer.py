"""The training loop: token-bucketed batches, label-smoothed loss, AdamW with warm-up and
decay on plateau, validation BLEU, best-checkpoint keeping, early stopping and exact resume.

Run directory layout (``train.output_dir``)::

    config.yaml          the resolved configuration of the run
    source.spm target.spm  the sentencepiece models (trained once, reused on resume)
    cache/pairs-*/       the prepared training data, memory-mapped (see training/data/cache.py)
    prepare.json         the cleaning report, whether the cache was reused, preparation times
    best/                checkpoint with the best validation BLEU (what you ship)
    last/                latest checkpoint + training_state.pt, for --resume
    log.jsonl            one JSON object per validation
    curves.png attention_*.png  written at the end

Multi-process runs (``torchrun``): rank 0 prepares the data and validates; every rank trains
on its share of each epoch's batches, and every collective (DDP's gradient all-reduce, the
broadcast of rank 0's decisions after a validation, the final barrier) is reached by all ranks.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch
import torch.distributed as dist
import yaml
from torch import nn
from tqdm import tqdm

from training.data.batching import Batch
from training.config import OptimConfig, TrainConfig
from training.data.prepare import PreparedData, prepare_data
from training.loop.loss import LossModule, make_optimizer
from training.loop.run_state import (
    STATE_FILE, TrainingState, load_last, load_warm_start, metadata, save_last, save_snapshot, warm_start,
)
from training.loop.validation import apply_validation, validate
from translator.memory import allocator_in_use, keep_freed_memory, release_freed_memory
from translator.store.checkpoint import load_checkpoint, resolve_device, save_checkpoint
from translator.model.seq2seq import Seq2Seq

# Ranks other than 0 wait in a collective while rank 0 prepares a corpus (minutes for tens of
# millions of pairs); gloo's default 30-minute timeout would abort them on a big corpus.
PROCESS_GROUP_TIMEOUT = datetime.timedelta(hours=6)


@dataclass
class Run:
    """What the parts of the loop share: configuration, model, optimiser, data and where to write."""

    config: TrainConfig
    model: Seq2Seq
    loss_module: nn.Module  # LossModule, wrapped in DDP when world_size > 1
    optimizer: torch.optim.Optimizer
    data: PreparedData
    device: torch.device
    run_dir: Path
    rank: int = 0
    world_size: int = 1
    first_step_time: float = 0.0  # wall clock (time.time()) when this process finished its first step
    started: float = field(default_factory=time.perf_counter)


@dataclass
class Window:
    """Training loss and throughput since the last validation."""

    loss: torch.Tensor | float = 0.0  # a device tensor: read back only when logged, not every step
    tokens: int = 0
    start: float = field(default_factory=time.perf_counter)

    def summary(self, world_size: int) -> tuple[float, float]:
        """(train loss per target token, target tokens/s over all ranks)."""
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        return float(self.loss) / max(1, self.tokens), world_size * self.tokens / elapsed


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Train a model as ``config`` says; returns the path of the best checkpoint directory."""
    opt = config.train
    trim_heap = configure_process(opt)
    device, rank, world_size = _setup_distributed(opt.device)
    _log(f"memory allocator: {allocator_in_use()} (translator-train preloads tcmalloc where the system has it)")
    run_dir = _check_run_dir(Path(opt.output_dir), resume, rank)
    random.seed(opt.seed)
    torch.manual_seed(opt.seed)
    warm = warm_start(run_dir, opt.init_from) if opt.init_from and not resume and rank == 0 else None
    # A warm start brings its tokenizers, so its data is prepared as a resumed run's is.
    data = prepare_data(config, run_dir, resume or bool(opt.init_from), rank)  # rank 0 prepares; all map it
    config = _with_vocab_sizes(config, data)
    run = _start(config, data, device, run_dir, rank, world_size)
    if resume:
        state = load_last(run_dir, run.model, run.optimizer)
        _log(f"resuming at step {state.step}, epoch {state.epoch}, batch {state.batch_in_epoch}")
    elif opt.init_from:
        state = load_warm_start(warm or load_checkpoint(opt.init_from), opt.init_from, run.model)
        _log(f"starting from {opt.init_from} (step {state.step}, epoch {state.epoch}) with a fresh optimizer")
    else:
        state = TrainingState()
    window = Window()
    with _sigterm_between_steps() as terminated:
        _train_loop(run, data, state, window, opt, world_size, terminated, trim_heap)
    _finish(run, state)
    return run_dir / "best"


def _train_loop(run: Run, data: PreparedData, state: TrainingState, window: Window, opt: OptimConfig,
                world_size: int, terminated: threading.Event, trim_heap: bool) -> None:
    """The epochs until :func:`_finished`. Once ``terminated`` is set (SIGTERM), it saves last/ after the step in
    progress and raises KeyboardInterrupt, which ``translator-train`` answers with exit code 130. ``trim_heap``:
    glibc keeps freed memory (:func:`configure_process`), so hand what fragmentation holds back every 200 steps."""
    rank = run.rank
    while not _finished(state, opt):
        batches = data.train.epoch_batches(opt.batch_tokens, opt.seed + state.epoch, rank, world_size)
        progress = tqdm(total=len(batches), initial=state.batch_in_epoch, desc=f"epoch {state.epoch + 1}",
                        disable=rank != 0, dynamic_ncols=True, mininterval=2.0)
        while state.batch_in_epoch < len(batches) and not _finished(state, opt):
            lr = _learning_rate(opt, state)
            batch = data.train.make_batch(batches[state.batch_in_epoch])
            window.loss += _training_step(run, batch, lr)
            window.tokens += batch.target_tokens
            state.step += 1
            state.batch_in_epoch += 1
            progress.update(1)
            if not run.first_step_time:
                run.first_step_time = time.time()
            if state.step % 50 == 0:
                if trim_heap and state.step % 200 == 0:
                    release_freed_memory()  # what fragmentation holds beyond the peak; see translator/memory.py
                loss, throughput = window.summary(world_size)
                progress.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.1e}", tok_s=f"{throughput:.0f}")
            if state.step % opt.validate_every == 0 or (opt.max_steps and state.step >= opt.max_steps):
                _validate_and_checkpoint(run, state, window, lr)
                window = Window()
            elif terminated.is_set() or (opt.save_every and state.step % opt.save_every == 0):
                _save_last(run, state)
            if terminated.is_set():
                progress.close()
                raise KeyboardInterrupt(f"SIGTERM: last/ saved at step {state.step}")
        progress.close()
        _end_of_epoch(run, state, len(batches))


@contextlib.contextmanager
def _sigterm_between_steps() -> Iterator[threading.Event]:
    """An event that SIGTERM sets while the block runs (instead of killing the process mid-step), so the loop
    can save last/ and stop; the previous handler is put back after. Off the main thread (where Python allows
    no signal handler) the event is never set."""
    terminated = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield terminated
        return
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: terminated.set())
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, previous)


def _save_last(run: Run, state: TrainingState) -> None:
    """Save last/ for --resume (rank 0 writes it)."""
    if run.rank == 0:
        save_last(run.run_dir, run.model, run.optimizer, state, run.data.tokenizers, run.config)


def configure_process(opt: OptimConfig) -> bool:
    """Apply the settings of ``opt`` that belong to the whole process: torch threads and glibc's
    freed-memory retention (which, once set, stays for the life of the process). True if glibc keeps freed
    memory (False when ``opt`` says not to, off glibc, or when tcmalloc serves the process's allocations: it
    keeps freed blocks in its own free lists, and glibc's thresholds and ``malloc_trim`` would act on a heap
    nobody uses)."""
    if opt.threads:
        torch.set_num_threads(opt.threads)
    return opt.keep_freed_memory and allocator_in_use() == "system" and keep_freed_memory()


def training_step(model: Seq2Seq, loss_module: nn.Module, optimizer: torch.optim.Optimizer, batch: Batch,
                  lr: float, opt: OptimConfig, device: torch.device) -> torch.Tensor:
    """One update on ``batch`` at learning rate ``lr`` with ``opt``'s precision and gradient clipping;
    the batch's summed plain loss (a device tensor).

    ``loss_module`` is ``model``'s LossModule (wrapped in DDP in multi-process runs). This is the
    step ``train`` makes, and the one ``benchmarks/train_speed.py`` times.
    """
    tokens = batch.target_tokens  # counted on the CPU copy: no device sync
    batch = batch.to(device)
    for group in optimizer.param_groups:
        group["lr"] = lr
    # bf16: matmuls and the recurrences run in bfloat16 (AMX or AVX512_BF16 on CPUs that have them),
    # weights, gradients and AdamW's state stay float32, and the loss's log-softmax is taken in
    # float32 (LossModule).
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=opt.precision == "bf16"):
        smoothed, plain = loss_module(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
    optimizer.zero_grad(set_to_none=True)
    (smoothed / tokens).backward()
    nn.utils.clip_grad_norm_(model.parameters(), opt.clip_norm)
    optimizer.step()
    return plain


def _training_step(run: Run, batch: Batch, lr: float) -> torch.Tensor:
    """:func:`training_step` with the run's model, optimiser, settings and device."""
    return training_step(run.model, run.loss_module, run.optimizer, batch, lr, run.config.train, run.device)


def _end_of_epoch(run: Run, state: TrainingState, batches_in_epoch: int) -> None:
    """When this epoch's batches are used up: count the epoch and save ``last/`` (rank 0)."""
    if state.batch_in_epoch < batches_in_epoch:
        return  # stopped mid-epoch (max_steps or early stopping)
    state.epoch += 1
    state.batch_in_epoch = 0
    if run.rank == 0:
        save_last(run.run_dir, run.model, run.optimizer, state, run.data.tokenizers, run.config)


def _validate_and_checkpoint(run: Run, state: TrainingState, window: Window, lr: float) -> None:
    """Called by every rank at the same step: rank 0 validates, keeps ``best/``, applies the
    lr-decay and stopping rule, logs and saves ``last/``; then all ranks adopt its decisions."""
    opt = run.config.train
    if run.rank == 0:
        tokenizers = run.data.tokenizers
        languages = (run.config.data.src_lang, run.config.data.tgt_lang)
        scores = validate(run.model, run.data.valid, tokenizers, opt.valid_beam_size, run.device, languages,
                          run.data.case_restorer)
        improved, stop_reason = apply_validation(state, scores["valid_bleu"], opt)
        if improved:
            save_checkpoint(run.run_dir / "best", run.model, *tokenizers, metadata(run.config, state, scores),
                            half_precision=opt.save_half_precision, case_restorer=run.data.case_restorer)
        if stop_reason:
            _log(f"stopping: {stop_reason}")
        train_loss, throughput = window.summary(run.world_size) if window.tokens else (float("nan"), 0.0)
        record = {"step": state.step, "epoch": state.epoch, "train_loss": train_loss, **scores, "lr": lr,
                  "target_tokens_per_second": throughput, "elapsed_seconds": time.perf_counter() - run.started,
                  "best_bleu": state.best_bleu, "first_step_time": run.first_step_time}
        with open(run.run_dir / "log.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        _log(f"step {state.step} epoch {state.epoch + 1}: train loss {train_loss:.3f}, valid loss "
             f"{scores['valid_loss']:.3f}, ppl {scores['valid_ppl']:.2f}, BLEU {scores['valid_bleu']:.2f}"
             f"{' (best)' if improved else ''}, {throughput:.0f} tgt tok/s")
        save_last(run.run_dir, run.model, run.optimizer, state, tokenizers, run.config)
        if opt.keep_snapshots:
            save_snapshot(run.run_dir, run.model, tokenizers, run.config, state, scores)
    state.lr_scale, stopped, state.best_bleu = _broadcast_from_rank0(
        state.lr_scale, float(state.stopped_early), state.best_bleu)
    state.stopped_early = bool(stopped)


def _finish(run: Run, state: TrainingState) -> None:
    """Save ``last/``; validate once more if the run never did (all ranks take part); draw plots."""
    if run.rank == 0:
        save_last(run.run_dir, run.model, run.optimizer, state, run.data.tokenizers, run.config)
    # The decision is rank 0's (only it writes best/), but the validation broadcasts, so every
    # rank must know it: a run that ends by max_epochs before its first validation hung here.
    (never_validated,) = _broadcast_from_rank0(float(run.rank == 0 and not (run.run_dir / "best").exists()))
    if never_validated:
        _validate_and_checkpoint(run, state, Window(), 0.0)
    if run.rank == 0:
        from training.loop.report import write_plots  # matplotlib is imported only when needed

        write_plots(run.run_dir, run.data.valid[0].src_text[: run.config.train.attention_plots])
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _finished(state: TrainingState, opt: OptimConfig) -> bool:
    """The stopping rule of the loop: early stop, epoch limit or step limit."""
    return state.stopped_early or state.epoch >= opt.max_epochs or bool(opt.max_steps and state.step >= opt.max_steps)


def _learning_rate(opt: OptimConfig, state: TrainingState) -> float:
    """Linear warm-up to the peak lr (again after a warm start: the optimizer's moments are new),
    times the decay applied on plateaus."""
    warmed = state.step - state.warm_start_step + 1
    return opt.learning_rate * state.lr_scale * min(1.0, warmed / max(1, opt.warmup_steps))


def _start(config: TrainConfig, data: PreparedData, device: torch.device, run_dir: Path, rank: int,
           world_size: int) -> Run:
    """Print and save the configuration, build model, loss and optimiser."""
    opt = config.train
    _log(f"data: {data.report.summary()}")
    config_yaml = yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False)
    _log("configuration:\n" + config_yaml)
    if rank == 0:
        (run_dir / "config.yaml").write_text(config_yaml)
    model = Seq2Seq(config.model).to(device)
    model.train()
    loss_module: nn.Module = LossModule(model, opt.label_smoothing)
    if world_size > 1:
        loss_module = nn.parallel.DistributedDataParallel(loss_module)
    optimizer = make_optimizer(model, opt.learning_rate, opt.weight_decay)
    _log(f"model: {sum(p.numel() for p in model.parameters()):,} parameters on {device}"
         f"{f' x {world_size} processes' if world_size > 1 else ''}")
    return Run(config, model, loss_module, optimizer, data, device, run_dir, rank, world_size)


def _with_vocab_sizes(config: TrainConfig, data: PreparedData) -> TrainConfig:
    source, target = data.tokenizers
    model = config.model.model_copy(update={"src_vocab_size": source.vocab_size,
                                            "tgt_vocab_size": target.vocab_size})
    return config.model_copy(update={"model": model})


def _check_run_dir(run_dir: Path, resume: bool, rank: int) -> Path:
    """Refuse to start over an existing run, or to resume one that is not there."""
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
    if resume and not (run_dir / "last" / STATE_FILE).exists():
        raise ValueError(f"--resume: {run_dir / 'last'} holds no training state to resume from")
    if not resume and (run_dir / "last").exists():
        raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it or choose another output_dir")
    return run_dir


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _log(message: str) -> None:
    if _rank() == 0:
        tqdm.write(message)


def _setup_distributed(device_name: str) -> tuple[torch.device, int, int]:
    """Join the torchrun process group when launched by torchrun; (device, rank, world size)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return resolve_device(device_name), 0, 1
    device = resolve_device(device_name)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=PROCESS_GROUP_TIMEOUT)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device, dist.get_rank(), dist.get_world_size()


def _broadcast_from_rank0(*values: float) -> list[float]:
    """Rank 0's values on every rank (decisions made after validation)."""
    if not dist.is_initialized():
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.broadcast(tensor, src=0)
    return tensor.tolist()
