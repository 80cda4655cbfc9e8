"""benchmarks/train_speed.py times the trainer's settings, and joeynmt_train_speed.py hands them on."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train_speed():
    return load_script("train_speed")


@pytest.fixture(scope="module")
def joeynmt_train_speed():
    return load_script("joeynmt_train_speed")


def test_train_speed_measures_the_configs_precision_and_memory_setting_by_default(train_speed):
    args = train_speed.parse_args([])
    config = train_speed.load_config(args.config, {})
    opt = train_speed.measured_settings(config, args)
    assert (opt.precision, opt.keep_freed_memory, opt.threads) == (
        config.train.precision, config.train.keep_freed_memory, config.train.threads)


def test_train_speed_flags_override_precision_memory_and_threads(train_speed):
    args = train_speed.parse_args(["--precision", "bf16", "--no-keep-freed-memory", "--threads", "1"])
    opt = train_speed.measured_settings(train_speed.load_config(args.config, {}), args)
    assert (opt.precision, opt.keep_freed_memory, opt.threads) == ("bf16", False, 1)


@pytest.mark.parametrize("flags, expected", [
    ([], []),
    (["--our-precision", "bf16", "--no-keep-freed-memory"], ["--precision", "bf16", "--no-keep-freed-memory"]),
    (["--our-precision", "fp32", "--keep-freed-memory"], ["--precision", "fp32", "--keep-freed-memory"]),
])
def test_joeynmt_benchmark_hands_precision_and_memory_setting_to_train_speed(
        joeynmt_train_speed, monkeypatch, tmp_path, flags, expected):
    commands = []

    def fake_run(command, check):
        commands.append(command)
        output = Path(command[command.index("--json") + 1])
        output.write_text(json.dumps({"precision": "bf16"}))

    monkeypatch.setattr(joeynmt_train_speed.subprocess, "run", fake_run)
    args = joeynmt_train_speed.parse_args(flags + ["--pause-pid", "123"])
    precision = args.our_precision[0] if args.our_precision else None
    assert joeynmt_train_speed.run_ours(args, tmp_path, precision) == {"precision": "bf16"}
    (command,) = commands
    passed = [flag for flag in command if flag in {"--precision", "fp32", "bf16", "--keep-freed-memory",
                                                    "--no-keep-freed-memory"}]
    assert passed == expected
    assert command[command.index("--pause-pid") + 1] == "123"


def test_joeynmt_table_has_a_row_per_precision_and_batching(joeynmt_train_speed):
    machine = {"cpu_model": "AMD EPYC", "cpu_capability": "AVX512", "cpu_flags": ["avx512_bf16"],
               "cores_usable": 2, "torch_version": "2.13.0+cpu", "torch_threads": 2, "python": "3.11.7"}

    def ours(precision, rate):
        return {"precision": precision, "keep_freed_memory": True, "rows": [
            {"batching": "random", "steps": 20, "target_tokens_per_second": rate,
             "matmul_gflops_beside": 100.0, "target_tokens_per_second_per_gflops": rate / 100}]}

    table = joeynmt_train_speed.format_table({
        "machine": machine,
        "joeynmt": {"target_tokens_per_second_mean": 1000.0, "target_tokens_per_second_per_gflops": 10.0,
                    "steps": 80, "logging_freq": 10, "matmul_gflops_beside": 100.0},
        "ours": [ours("fp32", 2000.0), ours("bf16", 3000.0)],
    })
    assert "| ours (train_speed.py, fp32) | random | 20 | 2000 | 2.00 |" in table
    assert "| ours (train_speed.py, bf16) | random | 20 | 3000 | 3.00 |" in table
    assert "AMD EPYC" in table
