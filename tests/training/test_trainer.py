"""Short real training runs on a tiny corpus: loss falls, resume is exact, reports are written."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

from tests.training.conftest import tiny_overrides
from training.cli import evaluate_main, train_main
from training.config import load_config
from training.loop.trainer import train
from translator.memory import tcmalloc_library
from translator.store.checkpoint import load_checkpoint


def run(corpus, output_dir, **train_options):
    return train(load_config(None, tiny_overrides(corpus, output_dir, **train_options)))


def read_log(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_short_run_lowers_the_loss_and_writes_checkpoint_log_and_plots(corpus, tmp_path):
    best = run(corpus, tmp_path / "run", max_steps="120")
    records = read_log(tmp_path / "run")
    assert [r["step"] for r in records] == [20, 40, 60, 80, 100, 120]
    assert records[-1]["valid_loss"] < 0.5 * records[0]["valid_loss"]
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert max(r["valid_bleu"] for r in records) > 20
    checkpoint = load_checkpoint(best)
    assert checkpoint.metadata["validation"]["valid_bleu"] == max(r["valid_bleu"] for r in records)
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
    assert (tmp_path / "run" / "attention_0.png").stat().st_size > 1000
    assert (tmp_path / "run" / "config.yaml").exists()


def test_resumed_run_ends_exactly_where_an_uninterrupted_run_ends(corpus, tmp_path):
    run(corpus, tmp_path / "straight", max_steps="70", attention_plots="0")
    run(corpus, tmp_path / "interrupted", max_steps="30", attention_plots="0")
    config = load_config(None, tiny_overrides(corpus, tmp_path / "interrupted", max_steps="70", attention_plots="0"))
    train(config, resume=True)
    straight = load_file(tmp_path / "straight" / "last" / "model.safetensors")
    resumed = load_file(tmp_path / "interrupted" / "last" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    # the interrupted run also validated where it stopped (30), which must not disturb the result
    assert [r["step"] for r in read_log(tmp_path / "interrupted")] == [20, 30, 40, 60, 70]


def test_warm_start_continues_from_a_checkpoint_with_its_tokenizers_and_step(corpus, tmp_path):
    best = run(corpus, tmp_path / "first", max_steps="60", attention_plots="0", keep_snapshots="0")
    first = read_log(tmp_path / "first")[-1]
    run(corpus, tmp_path / "second", max_steps="80", attention_plots="0", init_from=str(best))
    second = read_log(tmp_path / "second")
    # it counts on from the checkpoint's step and starts where the checkpoint was, not from scratch
    assert [r["step"] for r in second] == [80]
    assert second[0]["train_loss"] < 1.1 * first["train_loss"]
    assert second[0]["lr"] > 0
    for name in ("source.spm", "target.spm"):
        assert (tmp_path / "second" / name).read_bytes() == (tmp_path / "first" / name).read_bytes()
    metadata = load_checkpoint(tmp_path / "second" / "last").metadata
    assert metadata["training"]["step"] == 80
    # its metadata names the phase it began from: that checkpoint, its step and its data
    earlier = metadata["training"]["warm_start"]
    assert earlier["step"] == 60 and earlier["checkpoint"].endswith("first/best")
    assert earlier["training_data"] == load_checkpoint(best).metadata["training_data"]
    assert "warm_start" not in earlier
    # a third phase names both, and a resumed phase keeps the record
    run(corpus, tmp_path / "third", max_steps="90", attention_plots="0", init_from=str(tmp_path / "second" / "last"))
    train(load_config(None, tiny_overrides(corpus, tmp_path / "third", max_steps="100", attention_plots="0",
                                           init_from=str(tmp_path / "second" / "last"))), resume=True)
    third = load_checkpoint(tmp_path / "third" / "last").metadata["training"]
    assert third["step"] == 100
    assert third["warm_start"]["step"] == 80 and third["warm_start"]["warm_start"] == earlier


def test_warm_start_from_a_different_model_is_refused_by_name(corpus, tmp_path, capsys):
    best = run(corpus, tmp_path / "first", max_steps="20", attention_plots="0", keep_snapshots="0")
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, tmp_path / "second", max_steps="40").items()]
    assert train_main(flags + [f"--train.init_from={best}", "--model.decoder_hidden_size=24"]) == 2
    error = capsys.readouterr().err
    assert "init_from" in error and str(best) in error


def test_starting_over_an_existing_run_without_resume_is_refused(corpus, tmp_path, capsys):
    run(corpus, tmp_path / "run", max_steps="5", attention_plots="0")
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, tmp_path / "run").items()]
    assert train_main(flags) == 2
    assert "pass --resume" in capsys.readouterr().err


def test_resume_without_a_previous_run_is_refused(corpus, tmp_path, capsys):
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, tmp_path / "fresh").items()]
    assert train_main(flags + ["--resume"]) == 2
    assert "holds no training state" in capsys.readouterr().err


def test_bad_config_field_is_reported_by_name(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("data: {train_src: a, train_tgt: b, valid_src: c, valid_tgt: d}\nmodel: {rnn_type: transformer}\n")
    assert train_main(["--config", str(config)]) == 2
    assert "rnn_type" in capsys.readouterr().err


def test_evaluation_writes_hypotheses_and_a_sacrebleu_report(corpus, tmp_path, capsys):
    best = run(corpus, tmp_path / "run", max_steps="60", attention_plots="0")
    report = tmp_path / "eval" / "report.json"
    assert evaluate_main([str(best), "--src", str(corpus["valid_src"]), "--ref", str(corpus["valid_tgt"]),
                          "--beam-size", "3", "--report", str(report), "--device", "cpu"]) == 0
    data = json.loads(report.read_text())
    assert data["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert 0 <= data["bleu"] <= 100 and 0 <= data["chrf"] <= 100
    hypotheses = (tmp_path / "eval" / "report.hyp").read_text().splitlines()
    assert len(hypotheses) == 40
    import sacrebleu

    references = corpus["valid_tgt"].read_text().splitlines()
    assert data["bleu"] == round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2)
    assert f"BLEU {data['bleu']:.2f}" in capsys.readouterr().out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(flags, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
         "-m", "training", *flags],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def test_two_process_distributed_training_on_cpu(corpus, tmp_path):
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, tmp_path / "ddp", max_steps="20", attention_plots="0").items()]
    result = torchrun(flags)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "x 2 processes" in result.stderr + result.stdout
    assert load_checkpoint(tmp_path / "ddp" / "best").model is not None
    assert read_log(tmp_path / "ddp")[-1]["step"] == 20


def test_two_process_run_ending_by_max_epochs_before_any_validation_finishes(corpus, tmp_path):
    # Rank 0 used to validate (and broadcast) alone at the end while rank 1 waited at a barrier.
    overrides = tiny_overrides(corpus, tmp_path / "ddp", max_epochs="1", validate_every="100000", attention_plots="0")
    result = torchrun([f"--{k}={v}" for k, v in overrides.items()], timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_log(tmp_path / "ddp")
    assert len(records) == 1 and records[0]["epoch"] == 1
    assert load_checkpoint(tmp_path / "ddp" / "best").model is not None


def test_release_copies_the_checkpoint_and_records_measured_test_scores(corpus, tmp_path):
    from training.release.ship import main as release_main

    best = run(corpus, tmp_path / "run", max_steps="40", attention_plots="0")
    destination = tmp_path / "models" / "xx-yy"
    destination.parent.mkdir()
    assert release_main([str(best), str(destination), "--test-name", "tiny", "--src", str(corpus["valid_src"]),
                         "--ref", str(corpus["valid_tgt"]), "--beam-sizes", "1", "3"]) == 0
    metadata = json.loads((destination / "metadata.json").read_text())
    scores = metadata["test"]["tiny"]
    assert set(scores) == {"greedy", "beam3"}
    assert evaluate_main([str(destination), "--src", str(corpus["valid_src"]), "--ref", str(corpus["valid_tgt"]),
                          "--beam-size", "3", "--report", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert scores["beam3"]["bleu"] == report["bleu"]
    assert "--beam-size 3" in scores["beam3"]["command"]
    assert load_checkpoint(destination).metadata["source_language"] == "src"


def test_snapshots_keep_the_newest_and_average_to_their_mean(corpus, tmp_path):
    from training.release.average import main as average_main

    run(corpus, tmp_path / "run", max_steps="80", keep_snapshots="3", attention_plots="0")
    snapshots = sorted((tmp_path / "run" / "snapshots").iterdir())
    assert [p.name for p in snapshots] == ["step-00000040", "step-00000060", "step-00000080"]
    assert average_main([*map(str, snapshots), "--output", str(tmp_path / "avg"), "--float32"]) == 0
    averaged = load_checkpoint(tmp_path / "avg").model.state_dict()
    parts = [load_checkpoint(p).model.state_dict() for p in snapshots]
    for name, tensor in averaged.items():
        assert torch.allclose(tensor, sum(p[name] for p in parts) / 3, atol=1e-6), name
    assert average_main([str(snapshots[0]), str(tmp_path / "nowhere"), "--output", str(tmp_path / "x")]) == 2


def test_empty_validation_file_is_refused_before_training(corpus, tmp_path, capsys):
    corpus["valid_src"].write_text("")
    corpus["valid_tgt"].write_text("")
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, tmp_path / "run").items()]
    assert train_main(flags) == 2
    assert f"{corpus['valid_src']} is empty" in capsys.readouterr().err
    assert not (tmp_path / "run" / "last").exists()


def test_misaligned_validation_files_are_refused_before_training(corpus, tmp_path, capsys):
    corpus["valid_tgt"].write_text("a b\n")
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, tmp_path / "run").items()]
    assert train_main(flags) == 2
    assert "has 40 lines but" in capsys.readouterr().err
    assert not (tmp_path / "run" / "last").exists()


def test_a_corpus_filtered_out_entirely_is_refused_naming_the_files(corpus, tmp_path, capsys):
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, tmp_path / "run").items()]
    assert train_main(flags + ["--data.max_length=1"]) == 2
    error = capsys.readouterr().err
    assert f"every pair of {corpus['train_src']}" in error and "600 too long" in error
    assert not (tmp_path / "run" / "last").exists()


def test_checkpoints_carry_the_training_sources_casing_table(corpus, tmp_path):
    from training.release.average import average_checkpoints

    sources = corpus["train_src"].read_text().splitlines()
    corpus["train_src"].write_text("".join(s.replace("a", "A") + "\n" for s in sources))  # "A" is a name here
    best = run(corpus, tmp_path / "run", max_steps="40", attention_plots="0")
    for directory in (best, tmp_path / "run" / "last", *sorted((tmp_path / "run" / "snapshots").iterdir())):
        restorer = load_checkpoint(directory).case_restorer
        assert restorer is not None and restorer.spelling("a", "lower") == "A", directory
        assert restorer.restore("b A c") == ("b A c", None)
    averaged = average_checkpoints(sorted((tmp_path / "run" / "snapshots").iterdir()), tmp_path / "averaged")
    assert load_checkpoint(averaged).case_restorer == load_checkpoint(best).case_restorer


def test_a_german_sources_casing_table_lists_the_words_its_targets_capitalise(corpus, tmp_path):
    # German capitalises every noun, so the target side says which capitalised words are names (translator.text.names).
    targets = corpus["train_tgt"].read_text().splitlines()
    corpus["train_tgt"].write_text("".join(t.replace("a", "Abc") + "\n" for t in targets))
    overrides = tiny_overrides(corpus, tmp_path / "de", max_steps="1", attention_plots="0")
    best = train(load_config(None, {**overrides, "data.src_lang": "de"}))
    assert "Abc" in load_checkpoint(best).case_restorer.target_capitalised
    best = train(load_config(None, {**overrides, "train.output_dir": str(tmp_path / "en"), "data.src_lang": "en"}))
    assert load_checkpoint(best).case_restorer.target_capitalised == frozenset()


def test_sigterm_saves_last_after_the_step_in_progress_and_resume_continues_from_it(corpus, tmp_path):
    """A real translator-train process: save_every writes last/ between validations, SIGTERM makes it save the
    step it is at and exit 130, and --resume goes on from exactly that step."""
    run_dir = tmp_path / "run"
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, run_dir, attention_plots="0", validate_every="100000",
                                                      max_steps="100000", save_every="10").items()]
    command = [sys.executable, "-m", "training", *flags]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": "."})
    state_file = run_dir / "last" / "training_state.pt"
    deadline = time.monotonic() + 240
    while not state_file.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert state_file.exists(), "save_every never wrote last/ before the first validation"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    saved = re.search(r"SIGTERM: last/ saved at step (\d+)", stderr)
    assert saved, stderr
    step = int(saved.group(1))
    assert torch.load(state_file, weights_only=True)["state"]["step"] == step
    assert not (run_dir / "best").exists()  # it never validated: the save came from save_every and SIGTERM

    resumed = subprocess.run([*command[:3], *[f for f in flags if not f.startswith("--train.max_steps")],
                              f"--train.max_steps={step + 5}", "--resume"],
                             capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": "."})
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {step}," in resumed.stdout + resumed.stderr
    # the command restarts itself with tcmalloc where the system has it (the signal above reached it all the same)
    allocator = "tcmalloc" if tcmalloc_library() else "system"
    assert f"memory allocator: {allocator}" in resumed.stdout
    assert [record["step"] for record in read_log(run_dir)] == [step + 5]
