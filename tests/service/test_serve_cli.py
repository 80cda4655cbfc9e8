"""The translator-serve command: --help, flags over environment, clear errors, and the uvicorn call."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest
from safetensors.torch import load_file, save_file

from service import cli
from service.ops.connections import GuardedH11Protocol
from service.settings import ServiceSettings, env_name
from translator.store.checkpoint import write_manifest


def test_help_documents_every_flag_and_every_environment_variable(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--host", "--port", "--model-dir", "--models-root", "--device", "--dtype", "--quantize",
                 "--log-level"):
        assert flag in text
    for field in ServiceSettings.model_fields:
        assert env_name(field) in text


def test_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv("TRANSLATOR_PORT", "9000")
    monkeypatch.setenv("TRANSLATOR_DEVICE", "cuda")
    args = cli.build_parser().parse_args(["--port", "8001", "--model-dir", "m/a", "--model-dir", "m/b"])
    settings = cli.settings_from_args(args)
    assert settings.port == 8001
    assert settings.device == "cuda"  # no flag given: the environment wins
    assert [str(path) for path in settings.model_dirs] == ["m/a", "m/b"]


def test_no_models_exits_with_a_message_instead_of_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TRANSLATOR_MODEL_DIRS", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--models-root", str(tmp_path)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "no model directories found" in error and "Traceback" not in error


def test_an_invalid_setting_exits_with_a_message(capsys, monkeypatch):
    monkeypatch.setenv("TRANSLATOR_MAX_TEXTS", "0")
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "max_texts" in capsys.readouterr().err


def test_main_serves_with_the_draining_server_on_the_configured_address(tiny_model_dir, monkeypatch):
    servers = []
    monkeypatch.setattr("service.ops.server.TranslationServer.run", lambda self: servers.append(self))
    monkeypatch.setenv("TRANSLATOR_MAX_HEADER_BYTES", "4096")
    monkeypatch.setenv("TRANSLATOR_HEADER_TIMEOUT_S", "7")
    monkeypatch.setenv("TRANSLATOR_KEEP_ALIVE_TIMEOUT_S", "3")
    assert cli.main(["--model-dir", str(tiny_model_dir), "--host", "0.0.0.0", "--port", "8123"]) == 3  # never started
    [server] = servers
    assert (server.config.host, server.config.port) == ("0.0.0.0", 8123)
    # h11, with the service's connection bounds (service.ops.connections).
    assert server.config.http.func is GuardedH11Protocol and server.config.h11_max_incomplete_event_size == 4096
    limits = server.config.http.keywords["limits"]
    assert (limits.header_timeout_s, limits.max_connections, server.config.timeout_keep_alive) == (7, 1000, 3)
    assert server.state.settings.model_dirs == [tiny_model_dir]


def _nan_weights(directory):
    weights = load_file(directory / "model.safetensors")
    name = sorted(weights)[0]
    weights[name].view(-1)[0] = float("nan")
    save_file(weights, directory / "model.safetensors")
    write_manifest(directory)  # consistent hashes: only the finiteness check can catch it


def _flipped_byte(directory):
    data = bytearray((directory / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x10
    (directory / "model.safetensors").write_bytes(bytes(data))


def _swapped_file(directory):
    config, metadata = (directory / "config.json").read_bytes(), (directory / "metadata.json").read_bytes()
    (directory / "config.json").write_bytes(metadata)
    (directory / "metadata.json").write_bytes(config)


@pytest.mark.parametrize("damage, message", [
    (_nan_weights, r"model\.safetensors holds 1 non-finite values"),
    (_flipped_byte, r"model\.safetensors does not match its sha256"),
    (_swapped_file, r"config\.json does not match its sha256"),
])
def test_a_broken_model_is_refused_in_one_line_by_the_real_command(tmp_path, tiny_model_dir, damage, message):
    directory = tmp_path / "xx-yy"
    shutil.copytree(tiny_model_dir, directory)
    damage(directory)
    result = subprocess.run([sys.executable, "-m", "service.cli", "--model-dir", str(directory)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.search(rf"^translator-serve: error: {re.escape(str(directory))}/{message}", lines[0]), lines[0]


def test_the_real_server_starts_beside_a_killed_releases_staging_leftover(tmp_path, tiny_model_dir):
    root = tmp_path / "models"
    shutil.copytree(tiny_model_dir, root / "xx-yy")
    leftover = root / ".xx-yy.staging-k2j4x9"  # a release killed while copying: half-written weights
    shutil.copytree(tiny_model_dir, leftover)
    (leftover / "model.safetensors").write_bytes(b"half")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "--models-root", str(root), "--port", str(port),
                               "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert server.poll() is None, server.communicate()[0]
        models = httpx.get(f"http://127.0.0.1:{port}/models", timeout=5).json()["models"]
        assert [m["name"] for m in models] == ["xx-yy"]
    finally:
        server.terminate()
        server.wait(timeout=30)
