"""The one request path: every endpoint that translates (``/translate``, the LibreTranslate-compatible
``/translate``, and so the web page) or detects (``/detect``) runs its request through here.

A translation goes, in this order: loading check (503 while the models load) → text limits (413/422) →
language detection for ``auto`` → routing to a model or a pivot (404) → search options over the route's
defaults, within the server's limits (422) → the glossary, inline or stored (422/404) → the batching queue →
the request timeout (504) or the client hanging up (499) → the confidence policy (422 when refusing
low-confidence sentences: service.api.confidence) → the translations. The endpoints only turn their own
request shape into a :class:`TranslationJob` and the :class:`TranslationOutcome` into their own answer; every
error is a :class:`service.api.errors.ServiceError` that they answer in their own format.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Awaitable

from fastapi import Request

from translator.glossary import Glossary
from translator.search.options import AboveLimit, SearchOptions
from translator.translate import Translation
from translator.text.markup import Markup, parse_markup

from service.api.confidence import ConfidencePolicy, check_confidence
from service.api.errors import InvalidRequest, TimedOut
from service.api.glossaries import request_glossary
from service.api.schemas import TranslateRequest
from service.ops.lifecycle import cancel_on_disconnect
from service.ops.limits import check_texts
from service.scheduling.detect import Detection
from service.scheduling.pipeline import detect_languages, detect_source, translate_texts
from service.scheduling.queue import BatchingQueue
from service.scheduling.registry import ModelRegistry
from service.scheduling.routing import Route, find_route
from service.settings import ServiceSettings, env_name
from service.state import service_state


@dataclass(frozen=True)
class TranslationJob:
    """A request to translate, in the terms every endpoint shares.

    ``request`` holds the texts, the languages or model name, and the search options (our API's schema;
    the LibreTranslate endpoint fills it from its own parameters). With ``html`` each text is HTML whose
    text between tags is translated and whose tags are kept (:mod:`translator.text.markup`).
    ``keep_target_language`` decides what happens when ``source_lang`` is ``auto`` and the text is detected
    to be in the target language already: the texts come back unchanged (as LibreTranslate does), or the
    request is refused (422, our API).
    """

    request: TranslateRequest
    html: bool = False
    keep_target_language: bool = False
    owner: str = ""  # whose stored glossaries glossary_name names (service.ops.auth.key_owner)


@dataclass(frozen=True)
class TranslationOutcome:
    """One translation per text, in order; the route that made them (None when the texts were already in the
    target language and came back unchanged); the detected language with ``source_lang`` ``auto``; the
    confidence policy in effect (for flagging low-confidence sentences)."""

    translations: list[Translation]
    route: Route | None
    detected: Detection | None
    policy: ConfidencePolicy = ConfidencePolicy()


async def run_translation(request: Request, job: TranslationJob) -> TranslationOutcome:
    """Run ``job`` from the loading check to its translations (the order is in the module docstring).

    Raises:
        ServiceError: the status and message the client gets (Overloaded, LimitExceeded, InvalidRequest,
            ModelNotFound, TimedOut, ClientDisconnected).
    """
    state = service_state(request)
    registry, queue = state.serving()
    body, settings = job.request, state.settings
    texts = body.all_texts()
    check_texts(texts, settings)
    markups = [parse_markup(text) for text in texts] if job.html else None
    units = texts if markups is None else [node for markup in markups for node in markup.texts]
    detected = await detect_source(registry, units) if is_auto(body.source_lang) else None
    if detected is not None and body.target_lang is not None and detected.language == _code(body.target_lang):
        if job.keep_target_language:
            return TranslationOutcome([Translation(text, 0.0) for text in texts], None, detected)
        raise InvalidRequest(f"the text is detected as {detected.language} (confidence {detected.confidence:.2f}), "
                             "the same as target_lang; choose another target language or give source_lang")
    route = choose_route(registry, body, detected)
    options = search_options(body, route, settings)
    glossary = await request_glossary(request, body, job.owner)
    check_direct_route(glossary, route)
    if markups is None:
        work = translate_texts(queue, route, options, texts, body.split_sentences, glossary)
    else:
        work = _translate_html(queue, route, options, markups, glossary)
    translations = await _in_time(request, work, settings)
    policy = ConfidencePolicy.of(body.min_confidence, body.low_confidence, settings.min_confidence,
                                 settings.low_confidence)
    # (getattr: the BatchTranslator protocol does not require a calibration; a stand-in may have none)
    calibrated = all(getattr(model.translator, "calibration", None) is not None for model in route.legs)
    if calibrated or body.min_confidence is not None:  # the server's threshold exempts uncalibrated models
        check_confidence(translations, texts, policy, calibrated, route.name)
    return TranslationOutcome(translations, route, detected, policy if calibrated else ConfidencePolicy())


def check_direct_route(glossary: Glossary | None, route: Route) -> None:
    """A glossary needs one model from the source to the target language (terms cannot be held across a pivot).

    Raises:
        InvalidRequest: a glossary on a pivoted route.
    """
    if glossary is not None and len(route.legs) > 1:
        raise InvalidRequest(f"a glossary needs a direct model from {route.source_lang} to {route.target_lang}; this "
                             f"server pivots through {route.pivot}, and terms cannot be held across the pivot")


async def run_detection(request: Request, text: str) -> list[Detection]:
    """Candidate languages of ``text``, most likely first, after the loading check and the text limits.

    Raises:
        ServiceError: Overloaded while loading, LimitExceeded or InvalidRequest for the text, InvalidRequest
            when no language can be told.
    """
    state = service_state(request)
    registry, _ = state.serving()
    check_texts([text], state.settings)
    return await detect_languages(registry, [text])


def is_auto(source_lang: str | None) -> bool:
    """Whether the client asks for the source language to be detected."""
    return source_lang is not None and _code(source_lang) == "auto"


def choose_route(registry: ModelRegistry, body: TranslateRequest, detected: Detection | None) -> Route:
    """The models for this request: by name, by languages (direct or pivoted), or the only one loaded.

    Raises:
        ModelNotFound: no loaded model (or pivot) fits.
    """
    source = detected.language if detected else body.source_lang
    if body.model is not None or source is None or body.target_lang is None:
        return Route((registry.resolve(body.model, source, body.target_lang),))
    return find_route(registry, source, body.target_lang)


def search_options(body: TranslateRequest, route: Route, settings: ServiceSettings) -> SearchOptions:
    """The request's search options over the route's defaults, within the server's limits.

    Raises:
        InvalidRequest: an option above its limit, naming the setting.
    """
    try:
        return body.search_options(settings.max_beam_size, settings.max_output_length, route.default_search)
    except AboveLimit as error:
        raise InvalidRequest(
            f"{error.option} {error.value} is above this server's limit of {error.limit} "
            f"({error.limit_name}, {env_name(error.limit_name)})"
        ) from None


def _code(language: str) -> str:
    return language.strip().lower()


async def _in_time(request: Request, work: Awaitable[list[Translation]],
                   settings: ServiceSettings) -> list[Translation]:
    """Await ``work`` until the request timeout, cancelling it if the client hangs up first."""
    try:
        return await asyncio.wait_for(cancel_on_disconnect(request, work), settings.request_timeout_s)
    except asyncio.TimeoutError:
        raise TimedOut(
            f"the translation did not finish within {settings.request_timeout_s:g} s (request_timeout_s, "
            f"{env_name('request_timeout_s')}); the server is busy or the input is long: retry later, or send "
            "fewer or shorter texts", {"Retry-After": str(settings.retry_after_s)},
        ) from None
    except ValueError as error:  # the translator rejected the options or the input
        raise InvalidRequest(f"cannot translate this request: {error}") from None


async def _translate_html(queue: BatchingQueue, route: Route, options: SearchOptions,
                          markups: list[Markup], glossary: Glossary | None = None) -> list[Translation]:
    """Each HTML text translated (translator.text.markup): a sentence cut by inline tags whole, its tags placed by
    attention (composed through the pivot language for a pivoted route), else its text nodes one by one.

    A translated document has neither a score nor alternatives: its Translation holds the HTML alone.
    """
    if not any(markup.runs for markup in markups):
        results = iter(await translate_texts(queue, route, options, [t for m in markups for t in m.texts], glossary=glossary))
        rendered = [markup.join([next(results).text for _ in markup.texts]) for markup in markups]
        return [Translation(html, math.nan) for html in rendered]
    attended = options.updated(return_attention=True)
    results = iter(await translate_texts(queue, route, attended, [u for m in markups for u in m.units],
                                         glossary=glossary))
    translations = [[next(results) for _ in markup.units] for markup in markups]
    placed = [markup.place(translated, route.source_lang) for markup, translated in zip(markups, translations)]
    failed = [(number, run) for number, runs in enumerate(placed) for run, text in enumerate(runs) if text is None]
    nodes = [markups[number].run_node_texts(run) for number, run in failed]
    singly = iter(await translate_texts(queue, route, options, [t for texts in nodes for t in texts], glossary=glossary)
                  if failed else [])
    fallbacks: list[dict[int, list[str]]] = [{} for _ in markups]
    for (number, run), texts in zip(failed, nodes):
        fallbacks[number][run] = [next(singly).text for _ in texts]
    return [Translation(markup.render(translated, runs, fallback), math.nan)
            for markup, translated, runs, fallback in zip(markups, translations, placed, fallbacks)]
