"""The prepared training data: cleaned, tokenized, length-filtered pairs as flat arrays of
piece ids on disk, built once by parallel worker processes and memory-mapped by every run and
every process that uses the same data and tokenizers.

A cache is a directory ``<cache_dir>/pairs-<key digest>/``::

    src.ids tgt.ids          piece ids of all kept pairs, one after another (uint16, or uint32
                             for vocabularies over 65,536 pieces), no padding, no EOS
    src.offsets tgt.offsets  int64, pairs + 1 entries: pair i is ids[offsets[i]:offsets[i+1]]
    src.lengths tgt.lengths  uint16/uint32 piece counts, what batching sorts by
    meta.json                the key (data files' paths, sizes and sha256 of their bytes,
                             sentencepiece model hashes, cleaning settings, format), counts and
                             the cleaning report

The key holds the files' content digests, not their modification times, so a corpus restored
from a backup or copied to another machine keeps its cache; ``training.data.digest`` remembers the
digests by ``stat`` in ``<cache_dir>/digests.json`` so an unchanged file is not read at each start.

The arrays are raw ``numpy.memmap`` files (fairseq's MMapIndexedDataset layout): no decoding
step on load, any process maps the same pages, and a 20M-pair corpus costs the OS page cache,
not each process's heap. A cache is built in a ``.building-*`` directory and renamed into place
after every file is flushed, so a killed run or a full disk never leaves one that a later run
trusts; ``meta.json`` is checked against the expected key and the file sizes before use.

This module imports neither torch nor the translator package: preparation workers are spawned
processes that load only numpy and sentencepiece.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm
from tqdm import tqdm

from training.data.corpus import decode_lines, line_chunks
from training.data.clean import CleaningReport, clean_pairs, filter_by_length
from training.data.digest import file_sha256
from translator.text.protect import mask_pair

FORMAT_VERSION = 1
CLEANING = "HTML character references decoded, invisible characters dropped, NFC, whitespace normalised; pairs with an empty side dropped; then max_length / max_length_ratio"
CHUNK_PAIRS = 20_000
SIDES = ("src", "tgt")


@dataclass
class CacheSettings:
    """What a cache is built from (everything in its key) and how."""

    train_src: Path
    train_tgt: Path
    source_model: bytes  # serialized sentencepiece models
    target_model: bytes
    max_length: int
    max_length_ratio: float
    workers: int = 0  # 0: one per CPU core
    digest_memo: Path | None = None  # where training.data.digest remembers the files' digests
    placeholder_rate: float = 0.0  # pairs whose shared protected spans become placeholders (translator.text.protect)


def cache_key(settings: CacheSettings) -> dict[str, Any]:
    """The identity of a cache: a different value means the cache is stale."""
    files = {}
    for side, path in zip(SIDES, (settings.train_src, settings.train_tgt)):
        path = Path(path)
        sha256 = file_sha256(path, settings.digest_memo)
        files[side] = {"path": str(path.resolve()), "size": path.stat().st_size, "sha256": sha256}
    return {
        "format": FORMAT_VERSION,
        "files": files,
        "tokenizers": {"src": hashlib.sha256(settings.source_model).hexdigest(),
                       "tgt": hashlib.sha256(settings.target_model).hexdigest()},
        "cleaning": {"rule": CLEANING, "max_length": settings.max_length,
                     "max_length_ratio": settings.max_length_ratio, "placeholder_rate": settings.placeholder_rate},
    }


def cache_directory(cache_dir: Path, key: dict[str, Any]) -> Path:
    """Where the cache with ``key`` lives inside ``cache_dir``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return Path(cache_dir) / f"pairs-{digest}"


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds every piece id."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def length_dtype(max_length: int) -> np.dtype:
    """The smallest unsigned type that holds every kept pair's length."""
    return np.dtype(np.uint16 if max_length < 1 << 16 else np.uint32)


def build_cache(settings: CacheSettings, directory: Path, progress: bool = True,
                total_pairs: int | None = None) -> dict[str, Any]:
    """Clean, tokenize and filter the corpus in worker processes and write the cache to
    ``directory`` atomically; returns its ``meta.json`` content.

    Raises:
        ValueError: naming the file and line of unreadable input, or when no pair is kept.
        OSError: e.g. a full disk (nothing is left behind in ``directory``).
    """
    start = time.perf_counter()
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(directory.parent)
    staging = directory.parent / f".building-{directory.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        meta = _write_arrays(settings, staging, progress, total_pairs)
        meta["key"] = cache_key(settings)
        meta["build_seconds"] = time.perf_counter() - start
        _write_synced(staging / "meta.json", json.dumps(meta, indent=1).encode())
        _fsync_directory(staging)
        os.rename(staging, directory)
        _fsync_directory(directory.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return meta


def _write_arrays(settings: CacheSettings, staging: Path, progress: bool, total_pairs: int | None) -> dict[str, Any]:
    """Stream chunks through the workers in file order, appending their arrays to the staging files."""
    vocab_sizes = [_vocab_size(settings.source_model), _vocab_size(settings.target_model)]
    ids_types = [id_dtype(size) for size in vocab_sizes]
    lengths_type = length_dtype(settings.max_length)
    report = CleaningReport()
    counts = {"pairs": 0, "src_tokens": 0, "tgt_tokens": 0}
    workers = settings.workers or len(os.sched_getaffinity(0))
    files = {name: open(staging / name, "wb") for name in ("src.ids", "tgt.ids", "src.lengths", "tgt.lengths")}
    bar = tqdm(desc="preparing", total=total_pairs, unit=" pairs", unit_scale=True, disable=not progress,
               mininterval=2.0)
    try:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_start_worker,
                                 initargs=(settings, ids_types, lengths_type)) as pool:
            pending: deque[Future] = deque()
            chunks = line_chunks(settings.train_src, settings.train_tgt, CHUNK_PAIRS)
            for chunk in chunks:
                pending.append(pool.submit(_encode_chunk, chunk))
                if len(pending) > 2 * workers:  # bounded read-ahead: memory does not grow with the corpus
                    _append(pending.popleft().result(), files, report, counts, bar)
            while pending:
                _append(pending.popleft().result(), files, report, counts, bar)
        for handle in files.values():
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        bar.close()
        for handle in files.values():
            handle.close()
    if not counts["pairs"]:
        raise ValueError(f"every pair of {settings.train_src} / {settings.train_tgt} was filtered out "
                         f"({report.summary()}); raise data.max_length or data.max_length_ratio")
    for side in SIDES:
        _write_offsets(staging / f"{side}.lengths", staging / f"{side}.offsets", lengths_type, counts["pairs"])
    return {"pairs": counts["pairs"], "tokens": {"src": counts["src_tokens"], "tgt": counts["tgt_tokens"]},
            "ids_dtype": {"src": ids_types[0].name, "tgt": ids_types[1].name}, "lengths_dtype": lengths_type.name,
            "report": {"total": report.total, "kept": report.kept, "dropped": dict(report.dropped)}}


def _append(result: tuple, files: dict, report: CleaningReport, counts: dict, bar: tqdm) -> None:
    src_ids, src_lengths, tgt_ids, tgt_lengths, chunk_report = result
    files["src.ids"].write(src_ids.tobytes())
    files["tgt.ids"].write(tgt_ids.tobytes())
    files["src.lengths"].write(src_lengths.tobytes())
    files["tgt.lengths"].write(tgt_lengths.tobytes())
    report.total += chunk_report.total
    report.kept += chunk_report.kept
    report.dropped.update(chunk_report.dropped)
    counts["pairs"] += len(src_lengths)
    counts["src_tokens"] += len(src_ids)
    counts["tgt_tokens"] += len(tgt_ids)
    bar.update(chunk_report.total)


def _write_offsets(lengths_path: Path, offsets_path: Path, lengths_type: np.dtype, pairs: int) -> None:
    """offsets[i] = sum of lengths[:i], computed a block at a time (no corpus-sized array in memory)."""
    lengths = np.memmap(lengths_path, dtype=lengths_type, mode="r", shape=(pairs,))
    with open(offsets_path, "wb") as handle:
        running = np.zeros(1, dtype=np.int64)
        handle.write(running.tobytes())
        for start in range(0, pairs, 1 << 22):
            block = np.cumsum(lengths[start : start + (1 << 22)], dtype=np.int64) + running[-1]
            handle.write(block.tobytes())
            running = block
        handle.flush()
        os.fsync(handle.fileno())
    del lengths


_WORKER: dict[str, Any] = {}


def _start_worker(settings: CacheSettings, ids_types: list[np.dtype], lengths_type: np.dtype) -> None:
    """Per worker process: load the sentencepiece models once."""
    processors = []
    for proto in (settings.source_model, settings.target_model):
        processor = spm.SentencePieceProcessor()
        processor.LoadFromSerializedProto(proto)
        processors.append(processor)
    _WORKER.update(settings=settings, processors=processors, ids_types=ids_types, lengths_type=lengths_type)


def _encode_chunk(chunk: tuple[int, bytes, bytes]) -> tuple:
    """Decode, clean, tokenize and filter one chunk of line pairs (in a worker process)."""
    first_line, src_blob, tgt_blob = chunk
    settings: CacheSettings = _WORKER["settings"]
    source, target = _WORKER["processors"]
    src, tgt, report = clean_pairs(decode_lines(src_blob, settings.train_src, first_line),
                                   decode_lines(tgt_blob, settings.train_tgt, first_line))
    if settings.placeholder_rate > 0:
        rng = random.Random(first_line)  # the same chunk is always masked the same way
        src, tgt = map(list, zip(*(mask_pair(s, t, rng, settings.placeholder_rate) for s, t in zip(src, tgt)))
                       ) if src else (src, tgt)
    src_ids, tgt_ids = filter_by_length(source.encode(src, out_type=int), target.encode(tgt, out_type=int),
                                        settings.max_length, settings.max_length_ratio, report)
    src_type, tgt_type = _WORKER["ids_types"]
    lengths_type = _WORKER["lengths_type"]
    return (_flat(src_ids, src_type), np.fromiter(map(len, src_ids), lengths_type, len(src_ids)),
            _flat(tgt_ids, tgt_type), np.fromiter(map(len, tgt_ids), lengths_type, len(tgt_ids)), report)


def _flat(sequences: list[list[int]], dtype: np.dtype) -> np.ndarray:
    return np.fromiter((i for ids in sequences for i in ids), dtype, sum(map(len, sequences)))


def _vocab_size(proto: bytes) -> int:
    processor = spm.SentencePieceProcessor()
    processor.LoadFromSerializedProto(proto)
    return processor.get_piece_size()


def read_meta(directory: Path, key: dict[str, Any]) -> dict[str, Any]:
    """The checked ``meta.json`` of the cache in ``directory``.

    Raises:
        ValueError: naming the file that is unreadable, was built from something else, or has
            the wrong size (delete the directory and the next run rebuilds it).
    """
    meta_path = Path(directory) / "meta.json"
    remedy = f"delete {directory} and the next run rebuilds it"
    try:
        meta = json.loads(meta_path.read_text())
        pairs, tokens = int(meta["pairs"]), meta["tokens"]
        sizes = {}
        for side in SIDES:
            sizes[f"{side}.ids"] = int(tokens[side]) * np.dtype(meta["ids_dtype"][side]).itemsize
            sizes[f"{side}.lengths"] = pairs * np.dtype(meta["lengths_dtype"]).itemsize
            sizes[f"{side}.offsets"] = (pairs + 1) * 8
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{meta_path}: unreadable data cache ({error}); {remedy}") from None
    if meta.get("key") != key:
        raise ValueError(f"{meta_path} describes other data or tokenizers than this run's; {remedy}")
    for name, size in sizes.items():
        path = Path(directory) / name
        actual = path.stat().st_size if path.exists() else None
        if actual != size:
            raise ValueError(f"{path}: {actual if actual is not None else 'missing'} bytes, "
                             f"expected {size}; the data cache is damaged; {remedy}")
    return meta


def report_from_meta(meta: dict[str, Any]) -> CleaningReport:
    """The cleaning report recorded when the cache was built."""
    report = meta["report"]
    return CleaningReport(total=report["total"], kept=report["kept"], dropped=Counter(report["dropped"]))


def remove_stale(cache_dir: Path, current: Path, key: dict[str, Any]) -> list[Path]:
    """Delete caches in ``cache_dir`` built from an earlier version of the same training files.

    A cache of the same files as they are now, under other tokenizers or cleaning settings, belongs
    to another run sharing ``cache_dir`` (e.g. a 8k and a 16k vocabulary) and is kept, as are the
    caches of other files.
    """
    removed = []
    for directory in Path(cache_dir).glob("pairs-*"):
        if directory == current:
            continue
        try:
            files = json.loads((directory / "meta.json").read_text())["key"]["files"]
            same_paths = all(files[side]["path"] == key["files"][side]["path"] for side in SIDES)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if same_paths and any(files[side] != key["files"][side] for side in SIDES):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def _remove_abandoned_builds(cache_dir: Path) -> None:
    """Staging directories of builds whose process is gone (killed mid-write)."""
    for staging in cache_dir.glob(".building-*"):
        pid = staging.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_synced(path: Path, content: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
