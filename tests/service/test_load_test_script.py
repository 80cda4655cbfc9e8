"""benchmarks/load_test.py still runs: a one-second load against a real translator-serve on the tiny model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load_test.py"


@pytest.fixture(scope="module")
def load_test():
    spec = importlib.util.spec_from_file_location("load_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_percentiles_use_the_nearest_rank(load_test):
    values = [float(v) for v in range(1, 101)]
    assert (load_test.percentile(values, 0.5), load_test.percentile(values, 0.99)) == (50.0, 99.0)
    assert load_test.percentile([], 0.5) == 0.0


def test_only_loopback_targets_are_accepted(load_test):
    load_test.require_loopback("http://127.0.0.1:8000")
    with pytest.raises(SystemExit, match="not a loopback address"):
        load_test.require_loopback("http://10.0.0.1:8000")


def test_a_short_run_reports_throughput_latency_and_merged_batches(load_test, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "load.json"
    code = load_test.main(["--model-dir", str(tiny_model_dir), "--clients", "4", "--duration", "1",
                           "--beam-size", "2", "--json-out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["requests_ok"] > 0 and result["errors"] == {}
    assert result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert result["model_calls"] >= 1 and result["sentences_per_model_call"] >= 1
    assert result["server_peak_rss_mb"] > 0
    assert "throughput (req/s)" in capsys.readouterr().out
