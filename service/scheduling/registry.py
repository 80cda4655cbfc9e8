"""The loaded models: finding checkpoint directories, loading them, and choosing one per request."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from translator.store.atomic import is_hidden
from translator.store.checkpoint import CONFIG_FILE, CheckpointError, read_metadata, verify_checkpoint
from translator.translate import Translator

from service.api.errors import InvalidRequest, ModelNotFound
from service.settings import ServiceSettings, env_name

logger = logging.getLogger("service")


@dataclass
class LoadedModel:
    """One servable model: its name (the directory name), language pair and translator."""

    name: str
    source_lang: str
    target_lang: str
    version: str
    translator: Translator
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def pair(self) -> str:
        """The language pair as shown to clients, e.g. ``de->en``."""
        return f"{self.source_lang}->{self.target_lang}"

    def scores(self) -> dict[str, Any]:
        """Evaluation scores recorded in the checkpoint's metadata (validation, test), if any."""
        return {key: self.metadata[key] for key in ("validation", "test") if self.metadata.get(key)}


class ModelRegistry:
    """The models this server answers with, looked up by name or by language pair."""

    def __init__(self, models: list[LoadedModel]) -> None:
        if not models:
            raise ValueError("a registry needs at least one model")
        names = [model.name for model in models]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise CheckpointError(f"two model directories share the name(s) {duplicates}; rename one of them")
        self.models = models

    def available(self) -> str:
        """A human-readable list of what is loaded, for error messages."""
        def shared(model: LoadedModel) -> bool:  # another model translates its pair too
            return sum((m.source_lang, m.target_lang) == (model.source_lang, model.target_lang) for m in self.models) > 1

        return ", ".join(
            f"{model.pair} (model {model.name!r}"
            + (", the default" if shared(model) and self.for_pair(model.source_lang, model.target_lang) is model else "")
            + ")" for model in self.models)

    def for_pair(self, source: str, target: str) -> LoadedModel | None:
        """The model that answers ``source->target`` when a request names only the languages.

        Several models may translate one pair (e.g. ``de-en`` and its distilled ``de-en-fast``): the one
        named ``<source>-<target>`` answers, else the first by name; the others are chosen by name.
        """
        candidates = [m for m in self.models if (m.source_lang, m.target_lang) == (source, target)]
        if not candidates:
            return None
        return next((m for m in candidates if m.name == f"{source}-{target}"), min(candidates, key=lambda m: m.name))

    def resolve(self, model: str | None, source_lang: str | None, target_lang: str | None) -> LoadedModel:
        """The model a request asks for, by ``model`` name or by ``source_lang`` and ``target_lang``.

        With neither given, the only loaded model is used; with several loaded, the request must choose.

        Raises:
            ModelNotFound: no loaded model has that name or translates that pair (the message lists them).
            InvalidRequest: the request does not say which model, and several are loaded.
        """
        source = source_lang.strip().lower() if source_lang else None
        target = target_lang.strip().lower() if target_lang else None
        if model is not None:
            found = next((m for m in self.models if m.name == model), None)
            if found is None:
                raise ModelNotFound(f"no model named {model!r}; available: {self.available()}")
            if (source and source != found.source_lang) or (target and target != found.target_lang):
                raise ModelNotFound(
                    f"model {model!r} translates {found.pair}, not {source or '?'}->{target or '?'}; "
                    f"available: {self.available()}"
                )
            return found
        if source and target:
            found = self.for_pair(source, target)
            if found is not None:
                return found
            raise ModelNotFound(f"no model translates {source}->{target}; available: {self.available()}")
        if len(self.models) == 1 and not (source or target):
            return self.models[0]
        raise InvalidRequest(
            f"say which model to use: give both source_lang and target_lang, or model; available: {self.available()}"
        )


def model_directories(settings: ServiceSettings) -> list[Path]:
    """The checkpoint directories to serve: ``model_dirs``, or every checkpoint under ``models_root``.

    Raises:
        CheckpointError: nothing to serve, with a message saying where it looked and what to set.
    """
    if settings.model_dirs:
        return list(settings.model_dirs)
    root = settings.models_root
    # Hidden entries (.NAME.staging-*, .NAME.old-*) are a release's staging or retired copies.
    found = sorted(path.parent for path in root.glob(f"*/{CONFIG_FILE}") if not is_hidden(path.parent)) \
        if root.is_dir() else []
    if not found:
        raise CheckpointError(
            f"no model directories found under {root.resolve()} (a model directory holds {CONFIG_FILE}); "
            f"train one, or set {env_name('model_dirs')} / pass --model-dir"
        )
    return found


def load_model(directory: Path, settings: ServiceSettings) -> LoadedModel:
    """Load one verified checkpoint directory; its version is the hash of its manifest."""
    translator = Translator.from_pretrained(directory, settings.device, settings.dtype, settings.quantize)
    metadata = translator.metadata
    name = directory.resolve().name
    source, target = model_languages(directory, metadata)
    version = translator.version
    loaded = LoadedModel(name, source, target, version, translator, metadata)
    logger.info("loaded model %s (%s) from %s on %s, %s%s, version %s", name, loaded.pair, directory,
                translator.device, settings.dtype, ", int8" if settings.quantize else "", version)
    return loaded


def model_languages(directory: Path, metadata: dict[str, Any]) -> tuple[str, str]:
    """(source, target) language of a model: from its metadata.json, else from a name like ``de-en``."""
    name = directory.resolve().name
    guessed = name.split("-", 1) if name.count("-") == 1 else [None, None]
    source = str(metadata.get("source_language") or guessed[0] or "").lower()
    target = str(metadata.get("target_language") or guessed[1] or "").lower()
    if not source or not target:
        raise CheckpointError(
            f"{directory} does not say its languages: add source_language and target_language to its "
            "metadata.json, or name the directory like de-en"
        )
    return source, target


def verify_model_directory(directory: Path) -> str:
    """Every check :func:`load_model` makes, without building the model (fast); returns the version.

    Raises:
        CheckpointError: one line naming the file at fault (missing, changed, corrupt, non-finite weights).
    """
    version = verify_checkpoint(directory)
    model_languages(directory, read_metadata(directory))
    return version


def load_registry(settings: ServiceSettings) -> ModelRegistry:
    """Load every model directory the settings name (slow: run it off the event loop)."""
    return ModelRegistry([load_model(directory, settings) for directory in model_directories(settings)])

