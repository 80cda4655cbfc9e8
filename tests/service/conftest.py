"""Fixtures for service tests: apps built on the tiny untrained model, and a model stand-in that records calls."""

from __future__ import annotations

import json
import shutil
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Callable, Sequence

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import ServiceSettings
from tests.conftest import tiny_model
from tests.service.scheduling_fakes import EchoTranslator
from translator.search.hypotheses import StepHook
from translator.search.options import SearchOptions
from translator.seam import TokenTranslation
from translator.store.checkpoint import save_checkpoint, write_manifest
from translator.text.tokenizer import Tokenizer


@pytest.fixture(scope="session")
def second_model_dir(tiny_model_dir: Path) -> Path:
    """A copy of the tiny model that claims to translate yy->xx and records evaluation scores."""
    directory = tiny_model_dir.parent / "yy-xx"
    if not directory.exists():
        shutil.copytree(tiny_model_dir, directory)
        metadata = json.loads((directory / "metadata.json").read_text())
        metadata.update(source_language="yy", target_language="xx", validation={"valid_bleu": 12.5},
                        domain={"description": "symbol strings",
                                "out_of_domain_examples": [{"source": "Wie spät ist es?", "translation": "a a"}]})
        (directory / "metadata.json").write_text(json.dumps(metadata))
        write_manifest(directory)
    return directory


@pytest.fixture(scope="session")
def language_models_root(tmp_path_factory, symbol_tokenizer: Tokenizer) -> Path:
    """Copies of the tiny model named after real languages (de-en, en-de, en-fr), for detection and pivoting.

    No model translates de->fr or fr->en: de->fr is reachable only through English.
    """
    root = tmp_path_factory.mktemp("language-models")
    for seed, (source, target) in enumerate([("de", "en"), ("en", "de"), ("en", "fr")]):
        directory = root / f"{source}-{target}"
        save_checkpoint(directory, tiny_model(symbol_tokenizer.vocab_size, seed=seed + 1), symbol_tokenizer,
                        symbol_tokenizer, {"source_language": source, "target_language": target})
    return root


@pytest.fixture(scope="session")
def tiers_models_root(tmp_path_factory, symbol_tokenizer: Tokenizer) -> Path:
    """Two de->en models (de-en, and compact-de-en that sorts before it) and en-fr, as a model and its fast tier.

    compact-de-en is made for greedy search, as a distilled student is (``default_search`` in its metadata).
    """
    root = tmp_path_factory.mktemp("tiers")
    for seed, (name, source, target) in enumerate([("compact-de-en", "de", "en"), ("de-en", "de", "en"),
                                                   ("en-fr", "en", "fr")]):
        metadata = {"source_language": source, "target_language": target}
        if name == "compact-de-en":
            metadata["default_search"] = {"beam_size": 1}
        save_checkpoint(root / name, tiny_model(symbol_tokenizer.vocab_size, seed=seed + 1), symbol_tokenizer,
                        symbol_tokenizer, metadata)
    return root


@pytest.fixture(scope="session")
def make_settings(tiny_model_dir: Path) -> Callable[..., ServiceSettings]:
    """Settings serving the tiny model, ignoring the environment; keyword arguments override fields."""

    def make(**overrides) -> ServiceSettings:
        values = dict(model_dirs=[tiny_model_dir], warmup=False, batch_window_ms=1.0)
        values.update(overrides)
        return ServiceSettings(_env_file=None, **values)

    return make


@pytest.fixture(scope="module")
def languages_client(make_settings, language_models_root) -> TestClient:
    """A running app on the tiny models named de-en, en-de and en-fr (shared by a test module)."""
    settings = make_settings(model_dirs=sorted(language_models_root.iterdir()))
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def client(make_settings) -> TestClient:
    """A running app on the tiny model with default limits (shared by a test module)."""
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as test_client:
        yield test_client


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://service", timeout=30) as client:
            yield client


@pytest.fixture
def serving():
    """``async with serving(app) as client``: run the app's lifespan and an async client in this event loop.

    Unlike TestClient, requests sent with ``asyncio.gather`` really are concurrent.
    """
    return _serving


class FakeModel(EchoTranslator):
    """Stands in for a model at the library's token-level protocol: records the texts of every batch, can
    block, answers ``<text>``.

    Install with ``fake.install(app)`` after the lifespan has loaded the models.
    """

    def __init__(self, block: bool = False, fail_on: str | None = None, error: type[Exception] = ValueError) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not block:
            self.release.set()
        self.fail_on = fail_on
        self.error = error

    def translate_ids(self, batch: Sequence[Sequence[int]], options: SearchOptions,
                      step_hook: StepHook | None = None, terms=None) -> list[TokenTranslation | None]:
        texts = [self.words.decode(ids) for ids in batch]
        self.calls.append(texts)
        self.started.set()
        if not self.release.wait(timeout=10):
            raise RuntimeError("FakeModel was never released")
        if self.fail_on is not None and self.fail_on in texts:
            raise self.error(f"cannot translate {self.fail_on!r}")
        return [self.echo(ids) for ids in batch]


@pytest.fixture
def fake_model() -> Callable[..., FakeModel]:
    """Factory of FakeModel instances; blocked ones are released at teardown so no thread hangs."""
    made: list[FakeModel] = []

    def make(**kwargs) -> FakeModel:
        made.append(FakeModel(**kwargs))
        return made[-1]

    yield make
    for fake in made:
        fake.release.set()
