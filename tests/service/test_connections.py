"""What a real translator-serve guarantees about connections by itself, without a proxy in front: a request
head must arrive in time however it trickles, idle connections are closed, the number of connections is
bounded, and HTTP it cannot parse gets a JSON 400."""

from __future__ import annotations

import json
import select
import socket
import time

import httpx
import pytest

from tests.service.server_process import ServerProcess

HEADER_TIMEOUT_S = 1.0
# A long input: the tiny model searches ~1,000 source pieces with beam 12 for 512 steps (seconds of work).
HEAVY = {"text": " ".join("abcdefgh"[i % 8] for i in range(1000)), "beam_size": 12, "max_output_length": 512}
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("connections"), tiny_model_dir,
                       TRANSLATOR_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S), TRANSLATOR_KEEP_ALIVE_TIMEOUT_S="1",
                       TRANSLATOR_MAX_HEADER_BYTES="4096") as server:
        yield server


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails after the socket's 30 s timeout)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def read_one_answer(sock: socket.socket) -> bytes:
    """One complete answer with a Content-Length body, leaving the connection open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def json_error(answer: bytes, status: int) -> str:
    """The detail of a JSON error answer with ``status``."""
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert b"content-type: application/json" in head.lower(), answer
    return json.loads(body)["detail"]


def test_a_connection_that_never_sends_a_request_is_closed_at_the_head_deadline(server):
    with connect(server) as sock:
        started = time.monotonic()
        assert read_until_closed(sock) == b""  # closed without an answer, as an expired keep-alive is
        assert time.monotonic() - started >= HEADER_TIMEOUT_S * 0.9


def test_an_idle_keep_alive_connection_is_closed_after_its_answer(server):
    with connect(server) as sock:
        sock.sendall(HEALTH)
        assert read_one_answer(sock).startswith(b"HTTP/1.1 200")
        assert read_until_closed(sock) == b""


@pytest.mark.parametrize("after_an_answer", [False, True], ids=["new connection", "after an answer"])
def test_a_trickling_request_head_gets_408_at_the_deadline_however_often_bytes_arrive(server, after_an_answer):
    with connect(server) as sock:
        if after_an_answer:
            sock.sendall(HEALTH)
            assert read_one_answer(sock).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        # A header line every 0.1 s: each restarts uvicorn's own keep-alive timer, none extends the head deadline.
        for number in range(300):
            if select.select([sock], [], [], 0.1)[0]:
                break
            sock.sendall(b"X-Slow-%d: 1\r\n" % number)
        answer = read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert "header_timeout_s" in json_error(answer, 408)
    assert HEADER_TIMEOUT_S * 0.9 <= elapsed < 30


def test_the_head_deadline_does_not_cut_a_request_being_served(server):
    """Once the head is in, the body may take longer than header_timeout_s to arrive and the translation
    longer still: the deadline is for the head only. The body trickles for 1.5x the deadline, so the check
    does not depend on how fast this machine translates."""
    body = json.dumps(HEAVY).encode()
    head = (b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    pieces = 15
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(head)
        for number in range(pieces):
            time.sleep(HEADER_TIMEOUT_S * 1.5 / pieces)
            sock.sendall(body[number * len(body) // pieces:(number + 1) * len(body) // pieces])
        answer = read_until_closed(sock)
        assert time.monotonic() - started > HEADER_TIMEOUT_S * 1.5
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert len(json.loads(payload)["translations"]) == 1


@pytest.mark.parametrize("request_bytes, phrase", [
    (b"GARBAGE\r\n\r\n", "malformed HTTP request"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", "malformed HTTP request"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 5000, "max_header_bytes"),
], ids=["no request line", "bad header", "head past max_header_bytes"])
def test_http_that_cannot_be_parsed_gets_a_json_400(server, request_bytes, phrase):
    with connect(server) as sock:
        sock.sendall(request_bytes)
        assert phrase in json_error(read_until_closed(sock), 400)
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200


def test_connections_beyond_max_connections_get_503_until_some_close(tiny_model_dir, tmp_path):
    with ServerProcess(tmp_path, tiny_model_dir, TRANSLATOR_MAX_CONNECTIONS="3", TRANSLATOR_HEADER_TIMEOUT_S="60") as server:
        idle = [connect(server) for _ in range(3)]
        with connect(server) as sock:
            sock.sendall(HEALTH)
            answer = read_until_closed(sock)  # the server closes the connection after its 503
        detail = json_error(answer, 503)
        assert "max_connections" in detail and b"retry-after: 1" in answer.lower()
        for sock in idle:
            sock.close()
        # The server sees the closes shortly; then requests are served again.
        deadline = time.monotonic() + 30
        while (status := httpx.get(server.url + "/health", timeout=10).status_code) != 200:
            assert status == 503 and time.monotonic() < deadline
    assert status == 200
