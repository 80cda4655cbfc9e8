"""The web page in a real browser: headless Chromium, driven by selenium, against a real server process.

The server runs the shipped models (models/) in a subprocess, as ``translator-serve`` would. The test
types German, translates with Ctrl+Enter, reads the English, checks the alternatives and the attention
views against the JSON API's own answer, hovers a target word, and fails on any browser console error.
The API docs (/docs, /redoc) are read the same way, with the browser unable to reach any other host.
Chromium and chromedriver come from Debian (``apt-get install chromium chromium-driver``): without them the
tests skip, saying so, except under CI, which installs them and fails instead (``tests/system_packages.py``). Screenshots go to the test's temporary
directory, or to ``$WEB_PAGE_SCREENSHOTS`` when that is set (how docs/page.png is made).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.service.server_process import ROOT, ServerProcess
from tests.system_packages import require

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Every host name fails to resolve: the browser is offline but for the server's own 127.0.0.1, so a page that
# needed anything from elsewhere (a CDN) would break here.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
GERMAN = "Zwei Hunde spielen im Schnee."
WORD_START = "\u2581"


def call(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The shipped models (models/), without an API key."""
    with ServerProcess(tmp_path_factory.mktemp("server"), args=["--models-root", str(ROOT / "models")]) as server:
        yield server.url


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium with a fresh profile, its console log recorded."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        require(missing, "apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_argument("--window-size=1280,1000")
    options.add_argument("--lang=en-US")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    """Save a PNG of the whole page (the window is stretched to the page's height first)."""
    directory = Path(os.environ.get("WEB_PAGE_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    width = driver.execute_script("return window.innerWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, height + 100)  # outer vs inner size: a little extra
    driver.execute_script("window.scrollTo(0, 0); document.activeElement.blur()")
    path = directory / name
    driver.save_screenshot(str(path))
    return path


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def wait_for(driver, condition, message: str, timeout: float = 30):
    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        errors = console_errors(driver)
        pytest.fail(f"{message} (browser console errors: {errors or 'none'})")


def label(piece: str) -> str:
    """The page's label of a sentencepiece piece: the word-start mark dropped."""
    return piece[1:] if piece.startswith(WORD_START) and len(piece) > 1 else piece


def test_the_page_translates_german_and_shows_alternatives_and_attention(server, browser, tmp_path):
    expected = call(server, "/translate", {"text": GERMAN, "source_lang": "de", "target_lang": "en", "n_best": 3,
                                           "return_scores": True, "return_attention": True})["translations"][0]
    browser.get(server + "/")
    source = browser.find_element(By.ID, "source-lang")
    wait_for(browser, lambda d: source.is_enabled() and d.find_elements(By.CSS_SELECTOR, "#source-lang option[value=de]"),
             "the language pickers were never filled from GET /models")
    Select(source).select_by_value("de")
    Select(browser.find_element(By.ID, "target-lang")).select_by_value("en")
    assert Select(browser.find_element(By.ID, "n-best")).first_selected_option.text == "3"
    text_area = browser.find_element(By.ID, "source-text")
    text_area.send_keys(GERMAN)
    text_area.send_keys(Keys.CONTROL, Keys.ENTER)

    timing = browser.find_element(By.ID, "timing")
    wait_for(browser, lambda d: re.search(r"\d+ ms", timing.text), "no translation time appeared")
    output = browser.find_element(By.ID, "output").text
    assert output == expected["text"]
    assert "dogs" in output.lower() and "snow" in output.lower()  # English from the real de-en model
    assert "de-en" in timing.text

    alternatives = browser.find_elements(By.CSS_SELECTOR, "#alternatives li")
    assert [item.find_element(By.CLASS_NAME, "alternative-text").text for item in alternatives] == [
        candidate["text"] for candidate in expected["n_best"]]
    scores = [float(item.find_element(By.CLASS_NAME, "score-value").text) for item in alternatives]
    assert scores == pytest.approx([candidate["score"] for candidate in expected["n_best"]], abs=1e-3)

    alignment = expected["alignment"]
    heatmap = browser.find_element(By.ID, "heatmap")
    assert heatmap.is_displayed()
    cells = heatmap.find_elements(By.CSS_SELECTOR, ".cells .cell")
    assert len(cells) == len(alignment["target_pieces"]) * len(alignment["source_pieces"])
    row_labels = [e.get_attribute("textContent") for e in heatmap.find_elements(By.CSS_SELECTOR, ".row-labels text")]
    column_labels = [e.get_attribute("textContent")
                     for e in heatmap.find_elements(By.CSS_SELECTOR, ".column-labels text")]
    assert row_labels == [label(piece) for piece in alignment["target_pieces"]]
    assert column_labels == [label(piece) for piece in alignment["source_pieces"]]

    # Hover the target word "dogs": the source piece it attended to most is lit the strongest.
    row = next(i for i, piece in enumerate(alignment["target_pieces"]) if label(piece).lower() == "dogs")
    weights = alignment["weights"][row]
    strongest = max(range(len(weights)), key=weights.__getitem__)
    target_token = browser.find_element(By.CSS_SELECTOR, f"#flow .tokens.target .token[data-row='{row}']")
    ActionChains(browser).move_to_element(target_token).perform()
    wait_for(browser, lambda d: "selected" in target_token.get_attribute("class"), "hovering did not select the word")
    strengths = {int(token.get_attribute("data-col")): float(browser.execute_script(
        "return arguments[0].style.getPropertyValue('--strength')", token) or 0)
        for token in browser.find_elements(By.CSS_SELECTOR, "#flow .tokens.source .token")}
    assert max(strengths, key=strengths.get) == strongest
    assert strengths[strongest] == pytest.approx(weights[strongest] ** 0.5, abs=1e-3)
    strongest_token = browser.find_element(By.CSS_SELECTOR, f"#flow .tokens.source .token[data-col='{strongest}']")
    assert "lit" in strongest_token.get_attribute("class")
    readout = browser.find_element(By.ID, "readout").text
    assert readout.startswith("Writing “dogs”") and label(alignment["source_pieces"][strongest]) in readout
    assert "shown" in heatmap.find_element(By.CLASS_NAME, "row-band").get_attribute("class")

    screenshot(browser, tmp_path, "page-desktop.png")
    assert console_errors(browser) == []


def test_the_page_fits_a_phone_screen(server, browser, tmp_path):
    browser.set_window_size(390, 844)
    browser.get(server + "/")
    wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
    Select(browser.find_element(By.ID, "source-lang")).select_by_value("de")
    browser.find_element(By.ID, "example").click()
    assert browser.find_element(By.ID, "source-text").get_attribute("value").startswith("Ein Mann fährt Fahrrad.")
    browser.find_element(By.ID, "translate-button").click()
    wait_for(browser, lambda d: re.search(r"\d+ ms", d.find_element(By.ID, "timing").text),
             "no translation on the phone-sized page")
    assert "man" in browser.find_element(By.ID, "output").text.lower()
    # Nothing sticks out sideways: the wide attention views scroll inside their own boxes.
    page_width, view_width = browser.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert page_width <= view_width
    screenshot(browser, tmp_path, "page-phone.png")
    assert console_errors(browser) == []


def test_translating_nothing_asks_for_text_instead_of_calling_the_server(server, browser):
    browser.get(server + "/")
    wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
    browser.find_element(By.ID, "translate-button").click()
    message = browser.find_element(By.ID, "message")
    wait_for(browser, lambda d: message.is_displayed(), "no message for an empty text")
    assert "Type or paste" in message.text
    assert browser.find_element(By.ID, "details").is_displayed() is False
    assert console_errors(browser) == []


def test_a_paragraph_in_a_detected_language_gets_a_sentence_chooser_for_its_attention(server, browser, tmp_path):
    paragraph = "Ein Mann fährt Fahrrad. Eine Frau liest ein Buch im Park.\nZwei Kinder spielen Fußball im Schnee."
    expected = call(server, "/translate", {"text": paragraph, "source_lang": "auto", "target_lang": "en",
                                           "n_best": 3, "return_scores": True, "return_attention": True})
    sentences = expected["translations"][0]["sentences"]
    assert len(sentences) == 3 and expected["detected_language"]["language"] == "de"
    browser.get(server + "/")
    source = browser.find_element(By.ID, "source-lang")
    wait_for(browser, lambda d: source.is_enabled(), "the language pickers were never filled")
    Select(source).select_by_value("auto")
    Select(browser.find_element(By.ID, "target-lang")).select_by_value("en")
    browser.find_element(By.ID, "source-text").send_keys(paragraph)
    browser.find_element(By.ID, "translate-button").click()
    wait_for(browser, lambda d: re.search(r"\d+ ms", d.find_element(By.ID, "timing").text), "no translation")

    assert browser.find_element(By.ID, "output").get_attribute("textContent") == expected["translations"][0]["text"]
    assert "\n" in expected["translations"][0]["text"]  # the line break survives
    assert Select(source).first_selected_option.text == "German (detected)"
    chooser = Select(browser.find_element(By.ID, "sentence"))
    assert browser.find_element(By.ID, "sentence").is_displayed() and len(chooser.options) == 3

    # Picking the second sentence in the translation shows its alternatives and its attention.
    browser.find_element(By.CSS_SELECTOR, "#output .sentence[data-index='1']").click()
    assert chooser.first_selected_option.get_attribute("value") == "1"
    second = sentences[1]
    column_labels = [e.get_attribute("textContent")
                     for e in browser.find_elements(By.CSS_SELECTOR, "#heatmap .column-labels text")]
    assert column_labels == [label(piece) for piece in second["alignment"]["source_pieces"]]
    assert "Frau" in column_labels
    alternatives = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#alternatives .alternative-text")]
    assert alternatives == [candidate["text"] for candidate in second["n_best"]]

    # And the chooser works the other way round.
    chooser.select_by_value("2")
    assert "chosen" in browser.find_element(By.CSS_SELECTOR, "#output .sentence[data-index='2']").get_attribute("class")
    chooser.select_by_value("1")

    # Hovering "woman" names the source piece it looked at most.
    row = next(i for i, piece in enumerate(second["alignment"]["target_pieces"]) if label(piece) == "woman")
    weights = second["alignment"]["weights"][row]
    strongest = label(second["alignment"]["source_pieces"][max(range(len(weights)), key=weights.__getitem__)])
    token = browser.find_element(By.CSS_SELECTOR, f"#flow .tokens.target .token[data-row='{row}']")
    ActionChains(browser).move_to_element(token).perform()
    readout = browser.find_element(By.ID, "readout")
    wait_for(browser, lambda d: readout.text.startswith("Writing “woman”"), "hovering 'woman' said nothing")
    assert f"“{strongest}”" in readout.text
    screenshot(browser, tmp_path, "page-paragraph.png")
    ActionChains(browser).move_to_element(token).perform()  # the resize may have moved the pointer off it
    assert console_errors(browser) == []


def test_a_server_with_an_api_key_gets_the_key_from_the_page_before_any_api_call(tmp_path, browser):
    with ServerProcess(tmp_path, args=["--model-dir", str(ROOT / "models" / "de-en")],
                       TRANSLATOR_API_KEY="page-test-key") as server:
        browser.get(server.url + "/")
        key_field = browser.find_element(By.ID, "api-key")
        assert key_field.is_displayed()
        assert "needs an API key" in browser.find_element(By.ID, "message").text
        assert not browser.find_element(By.ID, "translate-button").is_enabled()
        key_field.send_keys("page-test-key", Keys.ENTER)
        wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(),
                 "the languages did not load with the key")
        assert not browser.find_element(By.ID, "message").is_displayed()
        browser.find_element(By.ID, "source-text").send_keys(GERMAN, Keys.CONTROL, Keys.ENTER)
        wait_for(browser, lambda d: re.search(r"\d+ ms", d.find_element(By.ID, "timing").text), "no translation")
        assert "dogs" in browser.find_element(By.ID, "output").text.lower()
        assert console_errors(browser) == []  # no 401 on the way: the page knew it needed the key


def test_replay_steps_through_the_target_pieces_in_the_order_they_were_written(server, browser):
    browser.get(server + "/")
    wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
    browser.find_element(By.ID, "source-text").send_keys(GERMAN, Keys.CONTROL, Keys.ENTER)
    wait_for(browser, lambda d: re.search(r"\d+ ms", d.find_element(By.ID, "timing").text), "no translation")
    replay = browser.find_element(By.ID, "replay")
    replay.click()
    assert replay.get_attribute("aria-pressed") == "true"

    def selected_rows(driver) -> list[int]:
        return [int(token.get_attribute("data-row"))
                for token in driver.find_elements(By.CSS_SELECTOR, "#flow .tokens.target .token.selected")]

    seen = []
    deadline = time.monotonic() + 20
    while replay.get_attribute("aria-pressed") == "true" and time.monotonic() < deadline:
        rows = selected_rows(browser)
        if rows and (not seen or seen[-1] != rows[0]):
            seen.append(rows[0])
        future = [int(token.get_attribute("data-row"))
                  for token in browser.find_elements(By.CSS_SELECTOR, "#flow .tokens.target .token.future")]
        assert not rows or all(row > rows[0] for row in future)
        time.sleep(0.05)
    pieces = len(browser.find_elements(By.CSS_SELECTOR, "#flow .tokens.target .token"))
    assert seen == list(range(pieces))  # every piece, in order, none skipped
    assert replay.get_attribute("aria-pressed") == "false" and not selected_rows(browser)
    assert console_errors(browser) == []


def test_a_pivoted_direction_is_marked_in_the_picker_and_beside_its_attention(tmp_path, browser,
                                                                              language_models_root):
    # Tiny untrained models named de-en, en-de and en-fr: de->fr exists only through English.
    with ServerProcess(tmp_path, args=["--models-root", str(language_models_root)]) as server:
        browser.get(server.url + "/")
        wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
        Select(browser.find_element(By.ID, "source-lang")).select_by_value("de")
        target = Select(browser.find_element(By.ID, "target-lang"))
        labels = {option.get_attribute("value"): option.text for option in target.options}
        assert labels == {"en": "English", "fr": "French (through English)"}
        target.select_by_value("fr")
        browser.find_element(By.ID, "source-text").send_keys("a b c d", Keys.CONTROL, Keys.ENTER)
        wait_for(browser, lambda d: re.search(r"\d+ ms", d.find_element(By.ID, "timing").text), "no translation")
        assert "de-en+en-fr" in browser.find_element(By.ID, "timing").text
        note = browser.find_element(By.ID, "attention-note")
        assert note.is_displayed() and "through English" in note.text
        assert browser.find_elements(By.CSS_SELECTOR, "#heatmap .cells .cell")
        assert console_errors(browser) == []


def test_a_pair_with_two_models_gets_a_model_picker_and_the_picked_model_answers(tmp_path, browser,
                                                                                  tiers_models_root):
    # de-en and compact-de-en both translate de->en (a model and its fast tier); en-fr has one model.
    with ServerProcess(tmp_path, args=["--models-root", str(tiers_models_root)]) as server:
        browser.get(server.url + "/")
        wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
        Select(browser.find_element(By.ID, "source-lang")).select_by_value("de")
        Select(browser.find_element(By.ID, "target-lang")).select_by_value("en")
        picker = Select(browser.find_element(By.ID, "model"))
        assert browser.find_element(By.ID, "model-field").is_displayed()
        assert [(o.get_attribute("value"), o.text) for o in picker.options] == [
            ("de-en", "de-en (default)"), ("compact-de-en", "compact-de-en (greedy search)")]
        assert picker.first_selected_option.get_attribute("value") == "de-en"
        picker.select_by_value("compact-de-en")
        browser.find_element(By.ID, "source-text").send_keys("a b c d", Keys.CONTROL, Keys.ENTER)
        wait_for(browser, lambda d: re.search(r"\d+ ms", d.find_element(By.ID, "timing").text), "no translation")
        assert browser.find_element(By.ID, "timing").text.endswith("compact-de-en")
        screenshot(browser, tmp_path, "model-picker.png")
        Select(browser.find_element(By.ID, "source-lang")).select_by_value("en")
        assert not browser.find_element(By.ID, "model-field").is_displayed()
        assert console_errors(browser) == []


@pytest.mark.parametrize("path, shows", [
    ("/docs", lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]),
    ("/redoc", lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, "[role=menuitem]")]),
], ids=["swagger ui", "redoc"])
def test_the_api_docs_work_offline(server, browser, path, shows):
    browser.get(server + path)
    wait_for(browser, lambda d: len(shows(d)) > 5, f"{path} never showed the API's operations")
    listed = " ".join(shows(browser))
    assert "/translate" in listed or "Translate one or more texts" in listed
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(entry => [entry.initiatorType, entry.name])")
    needed = [url for kind, url in loaded if kind != "img"]  # scripts, stylesheets, the OpenAPI document
    assert needed and all(url.startswith(server + "/") for url in needed), loaded
    # ReDoc's bundle shows its maker's logo from the maker's site: the one thing that stays blank offline.
    elsewhere = [url for kind, url in loaded if not url.startswith(server + "/")]
    assert elsewhere == ([] if path == "/docs" else ["https://cdn.redoc.ly/redoc/logo-mini.svg"])
    assert [error for error in console_errors(browser) if "logo-mini.svg" not in error] == []


def test_low_confidence_sentences_are_marked_with_their_reason(tmp_path, browser, calibrated_model_dir):
    """The tiny model's hand-set calibration (tests.conftest.length_calibration): the long second sentence is low."""
    paragraph = "a bb. Cc d e f g h a b c."
    with ServerProcess(tmp_path, calibrated_model_dir) as server:
        expected = call(server.url, "/translate", {"text": paragraph, "source_lang": "xx", "target_lang": "yy",
                                                   "n_best": 3})["translations"][0]
        first, second = expected["sentences"]
        assert first["confidence"] >= 0.5 > second["confidence"]
        browser.get(server.url + "/")
        wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
        Select(browser.find_element(By.ID, "source-lang")).select_by_value("xx")  # not "Detect language"
        Select(browser.find_element(By.ID, "target-lang")).select_by_value("yy")
        browser.find_element(By.ID, "source-text").send_keys(paragraph, Keys.CONTROL, Keys.ENTER)
        wait_for(browser, lambda d: re.search(r"\d+ ms", d.find_element(By.ID, "timing").text), "no translation")
        marked = browser.find_elements(By.CSS_SELECTOR, "#output .sentence.low-confidence")
        assert [span.get_attribute("data-index") for span in marked] == ["1"]
        assert marked[0].get_attribute("textContent") == second["text"]
        assert "a very long source" in marked[0].get_attribute("title")
        note = browser.find_element(By.ID, "confidence")
        assert note.is_displayed() and "low" in note.get_attribute("class").split()
        assert f"{round(100 * second['confidence'])} %" in note.text and "a very long source" in note.text
        assert "low for 1 of 2 sentences" in note.text
        screenshot(browser, tmp_path, "page-low-confidence.png")

        # A confident sentence alone is not marked; the note gives its confidence.
        text_area = browser.find_element(By.ID, "source-text")
        text_area.clear()
        text_area.send_keys("a b", Keys.CONTROL, Keys.ENTER)
        # (the paragraph's note also starts with "Confidence": wait for the one without a low sentence)
        wait_for(browser, lambda d: re.fullmatch(r"Confidence \d+ %", d.find_element(By.ID, "confidence").text),
                 "no confidence shown for a confident sentence")
        assert browser.find_elements(By.CSS_SELECTOR, "#output .low-confidence") == []
        assert "low" not in browser.find_element(By.ID, "confidence").get_attribute("class").split()
        assert console_errors(browser) == []
def test_the_glossary_editor_steers_the_translation_and_reports_a_bad_entry(server, browser):
    sentence, terms = "Eine Kellnerin steht hinter einer Theke.", "Kellnerin = waitress\nTheke = bar\n"
    expected = call(server, "/translate", {"text": sentence, "source_lang": "de", "target_lang": "en",
                                           "glossary": {"Kellnerin": "waitress", "Theke": "bar"}})
    browser.get(server + "/")
    wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
    Select(browser.find_element(By.ID, "source-lang")).select_by_value("de")
    Select(browser.find_element(By.ID, "target-lang")).select_by_value("en")
    browser.find_element(By.CSS_SELECTOR, "#glossary-editor summary").click()
    browser.find_element(By.ID, "glossary").send_keys(terms)
    assert browser.find_element(By.ID, "glossary-count").text == "(2 terms)"
    browser.find_element(By.ID, "source-text").send_keys(sentence)
    browser.find_element(By.ID, "translate-button").click()
    wait_for(browser, lambda d: re.search(r"\d+ ms", d.find_element(By.ID, "timing").text), "no translation")
    output = browser.find_element(By.ID, "output").text
    assert output == expected["translations"][0]["text"]
    assert "waitress" in output and "bar" in output

    browser.refresh()  # the glossary stays in this browser
    wait_for(browser, lambda d: d.find_element(By.ID, "translate-button").is_enabled(), "the page never got ready")
    assert browser.find_element(By.ID, "glossary").get_attribute("value") == terms
    browser.find_element(By.CSS_SELECTOR, "#glossary-editor summary").click()
    browser.find_element(By.ID, "glossary").send_keys("= orphan\n")
    browser.find_element(By.ID, "source-text").send_keys(sentence)
    browser.find_element(By.ID, "translate-button").click()
    message = browser.find_element(By.ID, "message")
    wait_for(browser, lambda d: message.is_displayed(), "no message for a glossary entry without a source term")
    assert "bad glossary" in message.text and "source term is empty" in message.text
