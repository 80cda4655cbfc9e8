"""What an operator relies on, against a real translator-serve process: SIGTERM drains, hang-ups stop the
work, SIGHUP reloads, keys are checked before bodies, slow bodies time out, headers are limited."""

from __future__ import annotations

import shutil
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import symbol_sentences, tiny_model
from tests.service.server_process import ServerProcess
from translator.store.checkpoint import save_checkpoint

# A long input: the tiny model searches ~1,000 source pieces with beam 12 for 512 steps.
HEAVY = {"text": " ".join("abcdefgh"[i % 8] for i in range(1000)), "beam_size": 12, "max_output_length": 512}


def wait_until(condition, timeout: float, interval: float = 0.05) -> float:
    """Poll ``condition`` until true; returns the seconds it took (raises after ``timeout``)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started


def test_sigterm_answers_every_accepted_request_then_exits(tiny_model_dir, tmp_path):
    with ServerProcess(tmp_path, tiny_model_dir, TRANSLATOR_REQUEST_TIMEOUT_S="60") as server:
        bodies = [{"texts": symbol_sentences(16, seed=i, max_len=40), "beam_size": 5} for i in range(24)]
        accepted_before = server.metric("translator_accepted_requests_total")  # the warm-up
        with ThreadPoolExecutor(len(bodies)) as pool:
            answers = [pool.submit(httpx.post, server.url + "/translate", json=b, timeout=120) for b in bodies]
            wait_until(lambda: server.metric("translator_accepted_requests_total") == accepted_before + len(bodies),
                       timeout=10)
            in_flight = sum(not answer.done() for answer in answers)
            server.signal(signal.SIGTERM)
            ready = httpx.get(server.url + "/ready", timeout=5)
            late = httpx.post(server.url + "/translate", json={"text": "a b"}, timeout=5)
            statuses = [answer.result().status_code for answer in answers]
        server.process.wait(timeout=60)
        log = server.log()
    assert ready.status_code == 503 and "shutting down" in ready.json()["detail"]
    assert late.status_code == 503 and late.headers["retry-after"] == "1"
    assert in_flight >= len(bodies) // 2  # SIGTERM came with work in flight
    assert statuses == [200] * len(bodies)
    assert server.process.returncode == 0
    assert "drained: every accepted request has been answered" in log


def test_a_second_sigterm_answers_the_rest_503_and_exits(tiny_model_dir, tmp_path):
    with ServerProcess(tmp_path, tiny_model_dir, TRANSLATOR_REQUEST_TIMEOUT_S="60") as server:
        accepted_before = server.metric("translator_accepted_requests_total")
        with ThreadPoolExecutor(4) as pool:
            answers = [pool.submit(httpx.post, server.url + "/translate", json=HEAVY, timeout=60) for _ in range(4)]
            wait_until(lambda: server.metric("translator_accepted_requests_total") == accepted_before + 4, timeout=10)
            server.signal(signal.SIGTERM)
            time.sleep(0.5)
            server.signal(signal.SIGTERM)
            responses = [answer.result() for answer in answers]
        server.process.wait(timeout=30)
    assert {r.status_code for r in responses} <= {200, 503} and 503 in {r.status_code for r in responses}
    assert all(r.headers.get("retry-after") for r in responses if r.status_code == 503)
    assert server.process.returncode == 0


def hang_up_and_measure(server: ServerProcess, body: dict, clients: int = 8) -> tuple[float, float]:
    """``clients`` POST ``body`` and hang up after 0.3 s; then the seconds until the worker is idle
    (at most 5) and the number of sentences cancelled."""
    def hang_up() -> None:
        with pytest.raises(httpx.TimeoutException):
            httpx.post(server.url + "/translate", json=body, timeout=0.3)

    threads = [threading.Thread(target=hang_up) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    idle_after = wait_until(lambda: server.metric("translator_worker_busy") == 0, timeout=5)
    return idle_after, server.metric("translator_cancelled_sentences_total")


def test_clients_that_hang_up_stop_costing_compute(tiny_model_dir, tmp_path):
    with ServerProcess(tmp_path, tiny_model_dir) as server:
        idle_after, cancelled = hang_up_and_measure(server, HEAVY)
        after = httpx.post(server.url + "/translate", json={"text": "a b"}, timeout=10)
    assert idle_after < 5 and cancelled == 8
    assert after.status_code == 200


def test_libretranslate_clients_that_hang_up_stop_costing_compute(tiny_model_dir, tmp_path):
    # LibreTranslate has no beam size: long texts make the work (25 x 1,000 pieces per request).
    texts = [" ".join("abcdefgh"[(i + j) % 8] for i in range(999)) for j in range(25)]
    with ServerProcess(tmp_path, tiny_model_dir) as server:
        idle_after, cancelled = hang_up_and_measure(server, {"q": texts, "source": "xx", "target": "yy"})
        after = httpx.post(server.url + "/translate", json={"q": "a b", "source": "xx", "target": "yy"}, timeout=10)
    assert idle_after < 5 and cancelled >= 100  # of 200: most were still waiting when their clients left
    assert after.status_code == 200 and isinstance(after.json()["translatedText"], str)


def test_sighup_swaps_in_a_new_version_under_load_and_refuses_a_broken_one(tiny_model_dir, tmp_path, symbol_tokenizer):
    model_dir = tmp_path / "xx-yy"
    shutil.copytree(tiny_model_dir, model_dir)
    with ServerProcess(tmp_path, model_dir) as server:
        old_version = httpx.get(server.url + "/models").json()["models"][0]["version"]
        statuses: list[tuple[float, int]] = []  # (when answered, status)
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    status = client.post(server.url + "/translate", json={"text": "a b c"}).status_code
                    statuses.append((time.monotonic(), status))

        clients = [threading.Thread(target=load) for _ in range(4)]
        for thread in clients:
            thread.start()
        staged = tmp_path / "staged"
        save_checkpoint(staged, tiny_model(symbol_tokenizer.vocab_size, seed=7), symbol_tokenizer, symbol_tokenizer,
                        {"source_language": "xx", "target_language": "yy"})
        model_dir.rename(tmp_path / "retired")
        staged.rename(model_dir)
        wait_until(lambda: len(statuses) >= 4, timeout=30)
        reloaded_at = time.monotonic()
        server.signal(signal.SIGHUP)

        def new_version() -> str:
            return httpx.get(server.url + "/models").json()["models"][0]["version"]

        wait_until(lambda: new_version() != old_version, timeout=30)
        swapped_version = new_version()
        swapped_at = time.monotonic()
        wait_until(lambda: statuses[-1][0] > swapped_at, timeout=30)
        (model_dir / "model.safetensors").write_bytes(b"not a checkpoint")
        server.signal(signal.SIGHUP)
        wait_until(lambda: "reload refused for" in server.log(), timeout=30)
        time.sleep(0.5)
        stop.set()
        for thread in clients:
            thread.join()
        kept_version = new_version()
        log = server.log()
    assert {status for _, status in statuses} == {200}
    assert statuses[0][0] < reloaded_at and statuses[-1][0] > swapped_at  # under load before and after the swap
    assert kept_version == swapped_version
    refused = [line for line in log.splitlines() if "reload refused for" in line]
    assert len(refused) == 1 and str(model_dir) in refused[0] and f"still serving version {swapped_version}" in refused[0]


@pytest.fixture(scope="module")
def guarded_server(tiny_model_dir, tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("guarded"), tiny_model_dir, TRANSLATOR_API_KEY="s3cret",
                       TRANSLATOR_BODY_TIMEOUT_S="1", TRANSLATOR_MAX_HEADER_BYTES="4096") as server:
        yield server


def raw_exchange(server: ServerProcess, data: bytes, timeout: float = 10) -> tuple[bytes, float]:
    """Send ``data`` on a fresh connection; return the answer (up to the server closing) and its first byte's time."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(data)
        answer = sock.recv(65536)
        seconds = time.monotonic() - started
        while chunk := sock.recv(65536):
            answer += chunk
        return answer, seconds


def test_the_api_key_is_checked_before_the_body_is_read(guarded_server):
    head = b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n"
    answer, seconds = raw_exchange(guarded_server, head + b"X-API-Key: wrong\r\n\r\n")  # the body is never sent
    assert answer.startswith(b"HTTP/1.1 401") and b"API key" in answer
    assert seconds < 1  # not the 1 s body timeout
    answer, seconds = raw_exchange(guarded_server, head + b"\r\n")  # no key: only a small body may follow
    assert answer.startswith(b"HTTP/1.1 413") and b"max_keyless_body_bytes" in answer
    assert seconds < 1
    keyless = httpx.post(guarded_server.url + "/translate", json={"text": "a b"}, timeout=10)
    assert keyless.status_code == 401


def test_a_body_that_does_not_arrive_in_time_gets_408(guarded_server):
    request = (b"POST /translate HTTP/1.1\r\nHost: x\r\nX-API-Key: s3cret\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100\r\n\r\n{\"text\": ")
    answer, seconds = raw_exchange(guarded_server, request)
    assert answer.startswith(b"HTTP/1.1 408") and b"body_timeout_s" in answer
    assert 0.9 < seconds < 5


def test_oversized_headers_are_refused(guarded_server):
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 8000 + b"\r\n\r\n"
    answer, _ = raw_exchange(guarded_server, request)
    assert answer.startswith(b"HTTP/1.1 431") and b"max_header_bytes" in answer
    with socket.create_connection(("127.0.0.1", guarded_server.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 3000)  # still arriving ...
        time.sleep(0.2)
        sock.sendall(b"a" * 3000)  # ... and past the limit
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")
    assert httpx.get(guarded_server.url + "/health").status_code == 200
