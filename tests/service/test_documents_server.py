"""Documents against a real ``translator-serve`` process: every format through our API and LibreTranslate's
(raw multipart and the libretranslate-aio client), hostile files refused while the server keeps serving,
cancel, expiry, API keys, and SIGTERM during a job.

The model is the tiny untrained one, named de-en and made for greedy search so that documents translate fast:
the translations are nonsense, the documents they are written into must not be.
"""

from __future__ import annotations

import io
import signal
import socket
import time
import zipfile
from pathlib import Path

import docx
import httpx
import pytest
from libretranslate_aio import LibreTranslate

from tests.conftest import tiny_model
from tests.service.server_process import ServerProcess
from tests.translator.document_fixtures import MAKERS, make_docx, zip_of
from translator.documents import read_document
from translator.store.checkpoint import save_checkpoint

GERMAN = {"source_lang": "de", "target_lang": "en"}
KEY = "documents-test-key"
OTHER_KEY = "another-tenants-key"  # the server takes both; neither sees the other's documents


@pytest.fixture(scope="module")
def greedy_model_dir(tmp_path_factory, symbol_tokenizer) -> Path:
    """The tiny model as de->en, searching greedily by default (LibreTranslate's requests name no beam size)."""
    directory = tmp_path_factory.mktemp("documents-model") / "de-en"
    save_checkpoint(directory, tiny_model(symbol_tokenizer.vocab_size), symbol_tokenizer, symbol_tokenizer,
                    {"source_language": "de", "target_language": "en", "default_search": {"beam_size": 1}})
    return directory


@pytest.fixture(scope="module")
def server(tmp_path_factory, greedy_model_dir):
    with ServerProcess(tmp_path_factory.mktemp("documents-server"), greedy_model_dir,
                       TRANSLATOR_MAX_DOCUMENT_BYTES="2000000") as server:
        yield server


def heavy_text(paragraphs: int, symbols: int = 1000) -> bytes:
    """Different paragraphs (a repeated one is translated once) of symbols without a full stop: long sentences for
    the tiny model to search."""
    letters = "abcdefgh"
    return "\n\n".join(
        f"{letters[j // 8]} {letters[j % 8]} " + " ".join(letters[(i + j) % 8] for i in range(symbols))
        for j in range(paragraphs)).encode()


def assert_same_format(data: bytes, name: str, original: bytes) -> None:
    """``data`` is a readable document of ``name``'s format; an archive has the original's members."""
    read_document(data, name)
    if original.startswith(b"PK"):
        assert zipfile.ZipFile(io.BytesIO(data)).namelist() == zipfile.ZipFile(io.BytesIO(original)).namelist()


def serves_text(server: ServerProcess) -> bool:
    response = httpx.post(server.url + "/translate", json={"text": "Ein Hund.", **GERMAN}, timeout=60)
    return response.status_code == 200 and httpx.get(server.url + "/health", timeout=5).status_code == 200


def test_every_format_comes_back_from_documents_and_from_translate_file(server):
    for extension, make in sorted(MAKERS.items()):
        original = make()
        ours = httpx.post(server.url + "/documents", files={"file": (f"brief{extension}", original)}, data=GERMAN,
                          timeout=120)
        assert ours.status_code == 200, (extension, ours.text)
        assert_same_format(ours.content, f"brief{extension}", original)
        theirs = httpx.post(server.url + "/translate_file", files={"file": (f"brief{extension}", original)},
                            data={"source": "de", "target": "en"}, timeout=120)
        assert theirs.status_code == 200, (extension, theirs.text)
        url = theirs.json()["translatedFileUrl"]
        assert url.startswith(server.url + "/download_file/") and url.endswith(f".brief{extension}")
        download = httpx.get(url, timeout=30)
        assert download.status_code == 200
        assert f'filename="brief{extension}"' in download.headers["content-disposition"]
        assert_same_format(download.content, f"brief{extension}", original)
        assert httpx.get(url, timeout=30).status_code == 404  # deleted once downloaded


def test_the_libretranslate_aio_client_translates_a_file(server, tmp_path):
    path = tmp_path / "Bericht über Hunde.docx"
    path.write_bytes(make_docx())
    with LibreTranslate(server.url + "/libretranslate", timeout=120) as client:
        settings = client.frontend_settings()
        translated = client.translate_file(path, "auto", "en")
    assert ".docx" in settings.supported_files_format and ".srt" in settings.supported_files_format
    assert "/libretranslate/download_file/" in translated.translated_file_url
    download = httpx.get(translated.translated_file_url, timeout=30)
    assert download.status_code == 200
    assert "Bericht%20%C3%BCber%20Hunde.docx" in download.headers["content-disposition"]
    opened = docx.Document(io.BytesIO(download.content))
    assert len(opened.paragraphs) == len(docx.Document(io.BytesIO(make_docx())).paragraphs)


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><w:document xmlns:w="urn:w"><w:body><w:p><w:r><w:t>'
                  b'&lol3;</w:t></w:r></w:p></w:body></w:document>')
EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
                   b'<w:document xmlns:w="urn:w"><w:body><w:p><w:r><w:t>&secret;</w:t></w:r></w:p></w:body>'
                   b'</w:document>')


def docx_with_document(document: bytes) -> bytes:
    """A docx whose main part is ``document``."""
    with zipfile.ZipFile(io.BytesIO(make_docx())) as original:
        members = {name: original.read(name) for name in original.namelist()}
    members["word/document.xml"] = document
    return zip_of(members)


@pytest.mark.parametrize("name, data, status, ours, theirs", [
    ("bomb.docx", zip_of({"[Content_Types].xml": b"<Types/>", "word/media/a.bin": b"\0" * (8 << 20)}), 413,
     "zip bomb", 400),
    ("laughs.docx", docx_with_document(BILLION_LAUGHS), 422, "declares XML entities", 400),
    ("secret.docx", docx_with_document(EXTERNAL_ENTITY), 422, "declares XML entities", 400),
    ("letter.docx", b"Sehr geehrte Damen und Herren, dies ist keine Zip-Datei.", 415, "not a zip archive", 400),
    ("slides.key", b"PK\x03\x04 whatever", 415, "supported formats: .docx", 400),
    ("paper.pdf", b"%PDF-1.7\n", 415, ".pdf files are not supported", 400),
], ids=["zip-bomb", "billion-laughs", "external-entity", "docx-not-zip", "unknown-extension", "pdf"])
def test_hostile_and_wrong_files_get_their_4xx_and_the_server_keeps_serving(server, name, data, status, ours, theirs):
    response = httpx.post(server.url + "/documents", files={"file": (name, data)}, data=GERMAN, timeout=60)
    compatible = httpx.post(server.url + "/translate_file", files={"file": (name, data)},
                            data={"source": "de", "target": "en"}, timeout=60)
    assert response.status_code == status and ours in response.json()["detail"]
    assert compatible.status_code == theirs and compatible.json()["error"]
    assert serves_text(server)


def raw_upload(server: ServerProcess, head: bytes, body_chunks) -> bytes:
    """Send a request head and body chunks over a socket (stopping at the first failed write); the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head)
        try:
            for chunk in body_chunks:
                connection.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        while not _complete(answer):
            data = connection.recv(65536)
            if not data:
                break
            answer += data
        return answer


def _complete(answer: bytes) -> bool:
    """Whether an HTTP answer holds its head and the whole body its Content-Length announces."""
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return False
    lengths = [line.split(b":", 1)[1] for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
    return len(body) >= int(lengths[0]) if lengths else True


def test_a_huge_upload_is_413_whether_declared_or_streamed_and_the_server_keeps_serving(server):
    part = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\n")
    declared = raw_upload(server, b"POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                          b"boundary=b\r\nContent-Length: 900000000\r\n\r\n", [part, b"a b c. " * 1000])
    chunk = b"a b c. " * 9000
    chunks = [part] + [chunk] * 400  # 25 MB, more than the limit of 2 MB
    streamed = raw_upload(server, b"POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                          b"boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n",
                          (b"%x\r\n%s\r\n" % (len(c), c) for c in chunks))
    assert declared.startswith(b"HTTP/1.1 413") and b"max_document_bytes" in declared
    assert streamed.startswith(b"HTTP/1.1 413") and b"max_document_bytes" in streamed
    assert serves_text(server)


def test_a_cancelled_job_stops_costing_compute(server):
    submitted = httpx.post(server.url + "/documents/jobs", files={"file": ("heavy.txt", heavy_text(40))},
                           data={**GERMAN, "beam_size": "12"}, timeout=30)
    assert submitted.status_code == 202
    job_url = server.url + submitted.headers["location"]
    deadline = time.monotonic() + 30
    while httpx.get(job_url, timeout=10).json()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    cancelled_before = server.metric("translator_cancelled_sentences_total")
    cancelled = httpx.delete(job_url, timeout=30).json()
    cancelled_sentences = server.metric("translator_cancelled_sentences_total") - cancelled_before
    assert cancelled["status"] == "cancelled" and cancelled["progress"]["done_sentences"] < 40
    # Every sentence not yet translated left the queue (a batch holds 4 of these long ones), and the worker goes idle
    # (a running batch stops at its next decoding step; slow on a busy machine, as for a client that hangs up).
    assert cancelled_sentences >= 40 - 4 - cancelled["progress"]["done_sentences"]
    started = time.monotonic()
    while server.metric("translator_worker_busy") != 0 and time.monotonic() - started < 60:
        time.sleep(0.05)
    assert server.metric("translator_worker_busy") == 0
    assert httpx.get(job_url + "/result", timeout=10).status_code == 410
    assert serves_text(server)


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, greedy_model_dir):
    """A server with an API key, whose results live 6 s, in a store directory the tests can look into."""
    directory = tmp_path_factory.mktemp("keyed-server")
    with ServerProcess(directory, greedy_model_dir, TRANSLATOR_API_KEY=f"{KEY},{OTHER_KEY}",
                       TRANSLATOR_DOCUMENT_RESULT_TTL_S="6",
                       TRANSLATOR_DOCUMENT_DIR=str(directory / "store")) as server:
        server.store = directory / "store"
        yield server


def test_results_expire_and_their_files_are_deleted(keyed_server):
    server, headers = keyed_server, {"X-API-Key": KEY}
    submitted = httpx.post(server.url + "/documents/jobs", files={"file": ("a.srt", MAKERS[".srt"]())},
                           data=GERMAN, headers=headers, timeout=30).json()
    job_url = f"{server.url}/documents/jobs/{submitted['id']}"
    while (status := httpx.get(job_url, headers=headers, timeout=10).json())["status"] != "done":
        assert status["status"] in ("queued", "running"), status
        time.sleep(0.1)
    stored = [path.name for path in server.store.iterdir()]
    time.sleep(status["expires_in_s"] + 2)  # its time to live, and a sweep (every 1.5 s)
    after = httpx.get(job_url, headers=headers, timeout=10)
    assert stored == [f"{submitted['id']}.result"]
    assert after.status_code == 404 and list(server.store.iterdir()) == []


def test_with_an_api_key_jobs_uploads_and_downloads_need_it(keyed_server):
    server, headers = keyed_server, {"X-API-Key": KEY}
    keyless = httpx.post(server.url + "/documents/jobs", files={"file": ("a.srt", MAKERS[".srt"]())},
                         data=GERMAN, timeout=30)
    job = httpx.post(server.url + "/documents/jobs", files={"file": ("a.srt", MAKERS[".srt"]())}, data=GERMAN,
                     headers=headers, timeout=30).json()
    job_url = f"{server.url}/documents/jobs/{job['id']}"
    seen = {name: httpx.get(job_url, headers=given, timeout=10).status_code
            for name, given in (("no key", {}), ("a wrong key", {"X-API-Key": "another"}),
                                ("another tenant's key", {"X-API-Key": OTHER_KEY}), ("the key", headers))}

    big = heavy_text(40, 4000)  # 320 KB: more than the 16 KiB (and one read) a keyless body may send before its key
    key_first = httpx.post(server.url + "/translate_file", files={"file": ("small.docx", make_docx())},
                           data={"api_key": KEY, "source": "de", "target": "en"}, timeout=120)
    wrong_key = httpx.post(server.url + "/translate_file", files={"file": ("big.txt", big)},
                           data={"api_key": "wrong", "source": "de", "target": "en"}, timeout=30)
    url = key_first.json()["translatedFileUrl"]
    without_key = httpx.get(url, timeout=10)
    other_tenant = httpx.get(url, params={"api_key": OTHER_KEY}, timeout=10)
    with_key = httpx.get(url, params={"api_key": KEY}, timeout=10)
    file_first_small = httpx.post(server.url + "/translate_file", headers=FORM_HEADERS, timeout=60,
                                  content=form_with_the_file_first("small.srt", MAKERS[".srt"]()))
    file_first_large = httpx.post(server.url + "/translate_file", headers=FORM_HEADERS, timeout=60,
                                  content=form_with_the_file_first("big.txt", big))
    assert keyless.status_code == 401
    # Another valid key is told the job does not exist, as for an id that never existed.
    assert seen == {"no key": 401, "a wrong key": 401, "another tenant's key": 404, "the key": 200}
    assert key_first.status_code == 200
    assert wrong_key.status_code == 403 and wrong_key.json() == {"error": "Invalid API key"}
    assert without_key.status_code == 403 and other_tenant.status_code == 404 and with_key.status_code == 200
    # A form with the file first and the key last (as LibreTranslate's own page sends it): a small file is taken,
    # a large one is refused at the keyless limit, with the advice to send the key first.
    assert file_first_small.status_code == 200
    assert file_first_large.status_code == 400 and "max_keyless_body_bytes" in file_first_large.json()["error"]


FORM_HEADERS = {"Content-Type": "multipart/form-data; boundary=form-boundary"}


def form_with_the_file_first(name: str, data: bytes) -> bytes:
    """A multipart form of ``file``, then ``source``, ``target`` and ``api_key``."""
    parts = [b'--form-boundary\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n\r\n%s\r\n'
             % (name.encode(), data)]
    for field, value in (("source", "de"), ("target", "en"), ("api_key", KEY)):
        parts.append(b'--form-boundary\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                     % (field.encode(), value.encode()))
    return b"".join(parts) + b"--form-boundary--\r\n"


def test_sigterm_during_a_job_lets_it_finish_and_be_downloaded_then_exits(greedy_model_dir, tmp_path):
    with ServerProcess(tmp_path, greedy_model_dir, TRANSLATOR_REQUEST_TIMEOUT_S="60") as server:
        submitted = httpx.post(server.url + "/documents/jobs", files={"file": ("heavy.txt", heavy_text(6, 150))},
                               data={**GERMAN, "beam_size": "2"}, timeout=30)
        job_url = server.url + submitted.headers["location"]
        while httpx.get(job_url, timeout=10).json()["status"] != "running":
            time.sleep(0.05)
        server.signal(signal.SIGTERM)
        refused = httpx.post(server.url + "/documents/jobs", files={"file": ("late.srt", MAKERS[".srt"]())},
                             data=GERMAN, timeout=10)
        polls = []
        while (status := httpx.get(job_url, timeout=10).json())["status"] == "running":
            polls.append(status["progress"]["done_sentences"])
            time.sleep(0.1)
        result = httpx.get(job_url + "/result", timeout=30)
        server.process.wait(timeout=60)
        log = server.log()
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert status["status"] == "done" and result.status_code == 200
    assert result.content.count(b"\n\n") == heavy_text(6, 150).count(b"\n\n")  # the same paragraphs
    assert polls and polls == sorted(polls)
    assert server.process.returncode == 0 and "drained: every accepted request has been answered" in log


def test_sigterm_with_a_job_longer_than_the_drain_limit_fails_it_saying_so(greedy_model_dir, tmp_path):
    with ServerProcess(tmp_path, greedy_model_dir, TRANSLATOR_DRAIN_TIMEOUT_S="1") as server:
        submitted = httpx.post(server.url + "/documents/jobs", files={"file": ("heavy.txt", heavy_text(40))},
                               data={**GERMAN, "beam_size": "12"}, timeout=30)
        job_url = server.url + submitted.headers["location"]
        while httpx.get(job_url, timeout=10).json()["status"] != "running":
            time.sleep(0.05)
        server.signal(signal.SIGTERM)
        seen = []
        try:
            while True:
                seen.append(httpx.get(job_url, timeout=5).json())
                time.sleep(0.1)
        except httpx.HTTPError:  # the server has exited
            pass
        server.process.wait(timeout=30)
        log = server.log()
    assert server.process.returncode == 0
    assert "1 document jobs did not finish within the drain limit" in log
    assert seen and seen[0]["status"] == "running"
