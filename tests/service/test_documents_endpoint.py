"""POST /documents and /documents/jobs in the app (the tiny xx->yy model, or a stand-in that can block): every
format comes back in its own format with its structure, jobs report progress and are cancelled, bad files get
their 4xx."""

from __future__ import annotations

import asyncio
import io
import re
import time
import zipfile

import docx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.translator.document_fixtures import MAKERS, make_docx, zip_of
from translator.documents import read_document

LANGUAGES = {"source_lang": "xx", "target_lang": "yy", "beam_size": "1"}  # greedy: the untrained model is slow


def upload(client: TestClient, path: str, name: str, data: bytes, **fields: str):
    return client.post(path, files={"file": (name, data)}, data={**LANGUAGES, **fields})


def skeleton(data: bytes, extension: str) -> list[str]:
    """What a translation must not change: an archive's member names, and the markup and line structure of a text
    format (timings of subtitles, tags of HTML, Markdown's line markers, the lines of plain text)."""
    if data.startswith(b"PK"):
        return zipfile.ZipFile(io.BytesIO(data)).namelist()
    text = data.decode("utf-8")
    if extension == ".srt":
        return [line for line in text.splitlines() if "-->" in line or line.isdigit()]
    if extension == ".html":
        return re.findall(r"<[^>]+>", text)
    if extension == ".md":
        return [found.group() for line in text.splitlines() if (found := re.match(r"#+ |- |\||```", line))]
    return [str(len(text.splitlines()))]


def wait_for_job(client: TestClient, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/documents/jobs/{job_id}").json()
        if status["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


@pytest.mark.parametrize("extension", sorted(MAKERS))
def test_every_format_comes_back_translated_in_its_own_format_with_as_many_segments(client, extension):
    original = MAKERS[extension]()
    response = upload(client, "/documents", f"brief{extension}", original)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == f'attachment; filename="brief.yy{extension}"'
    assert response.content != original
    read_document(response.content, f"brief.yy{extension}")  # a valid document of the same format
    assert skeleton(response.content, extension) == skeleton(original, extension)


def test_a_translated_docx_keeps_its_paragraphs_tables_and_styles(client):
    response = upload(client, "/documents", "brief.docx", make_docx())
    before, after = docx.Document(io.BytesIO(make_docx())), docx.Document(io.BytesIO(response.content))
    assert len(after.paragraphs) == len(before.paragraphs) and len(after.tables) == len(before.tables)
    assert [p.style.name for p in after.paragraphs] == [p.style.name for p in before.paragraphs]
    assert after.tables[0].cell(1, 1).text == "7"  # a number is not language: left as it was


def test_a_job_reports_progress_and_its_result_is_downloaded_once(client):
    submitted = upload(client, "/documents/jobs", "brief.docx", make_docx())
    assert submitted.status_code == 202
    job = submitted.json()
    assert submitted.headers["location"] == f"/documents/jobs/{job['id']}" and len(job["id"]) >= 22
    done = wait_for_job(client, job["id"])
    assert done["status"] == "done"
    progress = done["progress"]
    assert progress["done_sentences"] == progress["total_sentences"] > 10 and progress["fraction"] == 1.0
    assert done["result_url"] == f"/documents/jobs/{job['id']}/result" and done["expires_in_s"] > 0
    result = client.get(done["result_url"])
    assert result.status_code == 200 and result.headers["content-disposition"].endswith('"brief.yy.docx"')
    assert len(docx.Document(io.BytesIO(result.content)).paragraphs) == len(docx.Document(io.BytesIO(make_docx())).paragraphs)
    again = client.get(done["result_url"])
    assert again.status_code == 410 and "downloaded already" in again.json()["detail"]
    after = client.get(f"/documents/jobs/{job['id']}").json()
    assert after["downloaded"] is True and "result_url" not in after


def test_an_unknown_job_is_404_for_every_verb(client):
    for response in (client.get("/documents/jobs/no-such-job"), client.delete("/documents/jobs/no-such-job"),
                     client.get("/documents/jobs/no-such-job/result")):
        assert response.status_code == 404 and "no document job" in response.json()["detail"]


def test_cancelling_a_job_withdraws_its_sentences_from_the_queue(make_settings, serving, fake_model):
    async def scenario() -> None:
        app = create_app(make_settings(batch_max_sentences=2))
        async with serving(app) as client:
            fake = fake_model(block=True)
            fake.install(app)
            text = "\n\n".join(f"a b {first} {second}." for first in "abcd" for second in "abcdefgh").encode()
            submitted = await client.post("/documents/jobs", files={"file": ("many.txt", text)}, data=LANGUAGES)
            job_id = submitted.json()["id"]
            await asyncio.to_thread(fake.started.wait, 10)
            running = (await client.get(f"/documents/jobs/{job_id}")).json()
            cancelled = await client.delete(f"/documents/jobs/{job_id}")
            fake.release.set()
            await asyncio.sleep(0.3)
            assert running["status"] == "running" and running["progress"]["total_sentences"] == 32
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
            assert len(fake.calls) <= 2  # the batch running when cancelled, and no more of the 16 it had
            assert app.state.service.queue.pending_sentences == 0
            result = await client.get(f"/documents/jobs/{job_id}/result")
            assert result.status_code == 410 and "cancelled" in result.json()["detail"]

    asyncio.run(scenario())


@pytest.mark.parametrize("name, data, status, message", [
    ("slides.pdf", b"%PDF-1.7 ...", 415, "supported formats: .docx, .epub"),
    ("letter.docx", b"Dear John, this is not a zip.", 415, "not a zip archive"),
    ("letter.docx", zip_of({"[Content_Types].xml": b"<Types/>", "word/media/big.bin": b"\0" * (8 << 20)}), 413,
     "zip bomb"),
    ("laughs.html", b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><p>&b;</p>', 200,
     None),
    ("laughs.epub", zip_of({"mimetype": b"application/epub+zip", "META-INF/container.xml":
                            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><container>&a;</container>'}),
     422, "declares XML entities"),
    ("empty.txt", b"", 422, "empty"),
    ("latin1.txt", "Größe".encode("latin-1"), 422, "not UTF-8"),
], ids=["pdf", "docx-not-zip", "zip-bomb", "html-entities-are-text", "epub-entities", "empty", "not-utf8"])
def test_bad_files_get_a_clear_4xx(client, name, data, status, message):
    response = upload(client, "/documents", name, data)
    assert response.status_code == status, response.text
    if message is not None:
        assert message in response.json()["detail"]
        assert "Traceback" not in response.text


def test_a_form_without_a_file_or_not_a_form_is_422(client):
    no_file = client.post("/documents", data=LANGUAGES)
    as_json = client.post("/documents", json=LANGUAGES)
    assert no_file.status_code == 422 and "field named file" in no_file.json()["detail"]
    assert as_json.status_code == 422 and "multipart/form-data" in as_json.json()["detail"]


def test_a_document_over_the_size_limit_is_413_as_it_streams_in(make_settings):
    with TestClient(create_app(make_settings(max_document_bytes=50_000)), raise_server_exceptions=False) as client:
        def chunks():  # no Content-Length: counted as it arrives
            yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\r\n"
            for _ in range(20):
                yield b"a b c. " * 1000
            yield b"\r\n--b--\r\n"

        streamed = client.post("/documents", content=chunks(),
                               headers={"Content-Type": "multipart/form-data; boundary=b"})
        declared = upload(client, "/documents", "big.txt", b"a b. " * 20_000)
        small = upload(client, "/documents", "small.txt", b"a b c.")
    assert streamed.status_code == 413 and "max_document_bytes" in streamed.json()["detail"]
    assert declared.status_code == 413 and "TRANSLATOR_MAX_DOCUMENT_BYTES" in declared.json()["detail"]
    assert small.status_code == 200


def test_a_long_document_is_sent_to_the_jobs_instead_of_the_waiting_form(make_settings):
    with TestClient(create_app(make_settings(document_sync_max_chars=100)), raise_server_exceptions=False) as client:
        long = upload(client, "/documents", "long.txt", b"a b c d. " * 40)
        job = upload(client, "/documents/jobs", "long.txt", b"a b c d. " * 40)
    assert long.status_code == 413 and "POST /documents/jobs" in long.json()["detail"]
    assert job.status_code == 202


def test_an_unknown_language_pair_is_404_listing_what_is_loaded(client):
    response = client.post("/documents", files={"file": ("a.txt", b"a b c.")},
                           data={"source_lang": "de", "target_lang": "fr"})
    assert response.status_code == 404 and "xx" in response.json()["detail"]
