"""The page's Files tab in headless Chromium against a real server on the shipped de-en model: upload a .docx,
follow its progress, download the translation and open it. Same browser and rules as test_web_page_browser.py
(a missing Chromium skips, or fails under CI; any browser console error fails)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import docx
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.service.server_process import ROOT, ServerProcess
from tests.service.test_web_page_browser import browser, console_errors, screenshot, wait_for  # noqa: F401 (fixture)
from tests.translator.document_fixtures import MAKERS, make_docx
from translator.documents import read_document


def open_files_tab(driver, server: ServerProcess, downloads: Path | None = None) -> None:
    """The page of ``server`` on its Files tab, German to English, the browser saving downloads in ``downloads``."""
    if downloads is not None:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.get(server.url + "/")
    wait_for(driver, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
    Select(driver.find_element(By.ID, "source-lang")).select_by_value("de")
    Select(driver.find_element(By.ID, "target-lang")).select_by_value("en")
    driver.find_element(By.ID, "files-tab").click()


def downloaded(path: Path, timeout_s: float = 30) -> Path:
    """``path`` once the browser has saved it there."""
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.exists(), list(path.parent.iterdir())
    return path


def test_the_files_tab_translates_a_docx_that_downloads_and_opens(tmp_path, browser):  # noqa: F811 (fixture)
    upload = tmp_path / "Bericht.docx"
    upload.write_bytes(make_docx())
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with ServerProcess(tmp_path, args=["--model-dir", str(ROOT / "models" / "de-en")]) as server:
        open_files_tab(browser, server, downloads)
        assert browser.find_element(By.ID, "files-tab").get_attribute("aria-selected") == "true"
        assert not browser.find_element(By.ID, "source-text").is_displayed()
        formats = browser.find_element(By.ID, "file-formats")
        wait_for(browser, lambda d: ".docx" in formats.text and ".srt" in formats.text,
                 "the formats were not read from /frontend/settings")

        browser.find_element(By.ID, "file-input").send_keys(str(upload))
        assert "Bericht.docx" in browser.find_element(By.ID, "file-name").text
        browser.find_element(By.ID, "file-button").click()
        link = browser.find_element(By.ID, "file-download")
        wait_for(browser, lambda d: link.is_displayed(), "the translated document was never offered", timeout=120)
        status = browser.find_element(By.ID, "file-status").text
        assert status.startswith("done") and "sentence" in status
        assert float(browser.find_element(By.ID, "file-bar").get_attribute("value")) == 1.0
        assert link.text == "Download Bericht.en.docx"
        screenshot(browser, tmp_path, "page-files.png")

        link.click()
        saved = downloaded(downloads / "Bericht.en.docx")
        assert console_errors(browser) == []
    translated = docx.Document(io.BytesIO(saved.read_bytes()))
    original = docx.Document(io.BytesIO(make_docx()))
    assert len(translated.paragraphs) == len(original.paragraphs) and len(translated.tables) == len(original.tables)
    english = " ".join(paragraph.text for paragraph in translated.paragraphs).lower()
    assert "dog" in english and "hund" not in english  # translated by the real de-en model


def test_a_dropped_file_is_chosen_and_a_bad_one_gets_the_servers_message(tmp_path, browser):  # noqa: F811
    with ServerProcess(tmp_path, args=["--model-dir", str(ROOT / "models" / "de-en")]) as server:
        browser.get(server.url + "/")
        wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
        browser.find_element(By.ID, "files-tab").click()
        browser.execute_script("""
            const data = new DataTransfer();
            data.items.add(new File(["%PDF-1.7"], "slides.pdf", {type: "application/pdf"}));
            document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", {dataTransfer: data}));""")
        assert "slides.pdf" in browser.find_element(By.ID, "file-name").text
        browser.find_element(By.ID, "file-button").click()
        message = browser.find_element(By.ID, "message")
        wait_for(browser, lambda d: message.is_displayed(), "no message for an unsupported file")
        assert ".pdf files are not supported" in message.text and ".docx" in message.text
        assert not browser.find_element(By.ID, "file-download").is_displayed()
        browser.find_element(By.ID, "text-tab").click()
        assert browser.find_element(By.ID, "source-text").is_displayed()
        # The 415 is the one console error, the browser's report of the failed upload.
        assert [error for error in console_errors(browser) if "415" not in error] == []


def test_cancel_stops_a_running_document_and_offers_no_download(tmp_path, browser):  # noqa: F811 (fixture)
    # 2,000 different sentences: minutes of work for the real model, so the job is surely running when cancelled.
    upload = tmp_path / "lang.txt"
    upload.write_text("\n".join(f"Der Hund Nummer {number} läuft über die grüne Wiese." for number in range(2000)),
                      encoding="utf-8")
    with ServerProcess(tmp_path, args=["--model-dir", str(ROOT / "models" / "de-en")]) as server:
        open_files_tab(browser, server)
        browser.find_element(By.ID, "file-input").send_keys(str(upload))
        browser.find_element(By.ID, "file-button").click()
        status = browser.find_element(By.ID, "file-status")
        wait_for(browser, lambda d: " of 2000 sentences" in status.text, "the job never showed its progress",
                 timeout=60)
        cancel = browser.find_element(By.ID, "file-cancel")
        assert cancel.is_displayed()
        cancel.click()
        wait_for(browser, lambda d: status.text == "cancelled", "the page never said the job was cancelled")
        assert not browser.find_element(By.ID, "file-download").is_displayed()
        assert not cancel.is_displayed() and browser.find_element(By.ID, "file-button").is_enabled()
        # The server stopped translating it: its worker goes idle although most sentences were never done.
        deadline = time.monotonic() + 30
        while server.metric("translator_worker_busy") != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.metric("translator_worker_busy") == 0
        assert console_errors(browser) == []


def test_every_format_goes_through_the_files_tab_and_comes_back_in_its_format(tmp_path, browser):  # noqa: F811
    """Each fixture format uploaded on the page, translated by the real de-en model, downloaded by the browser:
    the file reads back in its own format with as many segments as the original, and its text changed."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with ServerProcess(tmp_path, args=["--model-dir", str(ROOT / "models" / "de-en")]) as server:
        open_files_tab(browser, server, downloads)
        for extension, make in sorted(MAKERS.items()):
            upload = tmp_path / f"brief{extension}"
            upload.write_bytes(make())
            browser.find_element(By.ID, "file-input").send_keys(str(upload))
            browser.find_element(By.ID, "file-button").click()
            link = browser.find_element(By.ID, "file-download")
            wait_for(browser, lambda d: link.is_displayed(), f"{extension} was never offered for download", timeout=120)
            assert link.text == f"Download brief.en{extension}", extension
            link.click()
            saved = downloaded(downloads / f"brief.en{extension}")
            original, translated = read_document(make(), upload.name), read_document(saved.read_bytes(), saved.name)
            assert len(translated.segments) == len(original.segments), extension
            assert translated.segments != original.segments, extension
        assert console_errors(browser) == []


def test_the_glossary_editor_steers_a_document_too(tmp_path, browser):  # noqa: F811 (fixture)
    upload = tmp_path / "theke.txt"
    upload.write_text("Eine Kellnerin steht hinter einer Theke.\n", encoding="utf-8")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with ServerProcess(tmp_path, args=["--model-dir", str(ROOT / "models" / "de-en")]) as server:
        open_files_tab(browser, server, downloads)
        browser.find_element(By.CSS_SELECTOR, "#glossary-editor summary").click()
        browser.find_element(By.ID, "glossary").send_keys("Kellnerin = barmaid\nTheke = counter\n")
        browser.find_element(By.ID, "file-input").send_keys(str(upload))
        browser.find_element(By.ID, "file-button").click()
        link = browser.find_element(By.ID, "file-download")
        wait_for(browser, lambda d: link.is_displayed(), "the translated document was never offered", timeout=120)
        link.click()
        saved = downloaded(downloads / "theke.en.txt")
        translated = saved.read_text(encoding="utf-8")
        assert "barmaid" in translated and "counter" in translated, translated
        assert console_errors(browser) == []
