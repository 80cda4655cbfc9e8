"""The HTTP endpoints: /translate, /models, /health, /ready and /metrics."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from translator.search.options import MODEL_DEFAULT_FIELDS
from translator.translate import Translation

from service.api.confidence import ConfidencePolicy, is_low
from service.api.errors import error_response
from service.api.translation import TranslationJob, run_translation
from service.ops.auth import request_owner, require_api_key
from service.scheduling.registry import LoadedModel
from service.scheduling.routing import reachable
from service.api.schemas import (
    TRANSLATE_EXAMPLES, Alignment, Candidate, DetectedLanguage, Direction, ErrorResponse, HealthResponse, ModelInfo,
    ModelsResponse, SentenceResult, TranslateRequest, TranslateResponse, TranslationResult,
)
from service.state import service_state

router = APIRouter()


def _errors(*codes: int) -> dict[int | str, dict]:
    return {code: {"model": ErrorResponse} for code in codes}


@router.post(
    "/translate", response_model=TranslateResponse, response_model_exclude_none=True,
    responses=_errors(401, 404, 413, 422, 503, 504), summary="Translate one or more texts",
)
async def translate(
    request: Request, body: Annotated[TranslateRequest, Body(openapi_examples=TRANSLATE_EXAMPLES)],
    owner: Annotated[str, Depends(request_owner)],
) -> TranslateResponse:
    """Translate ``text`` or ``texts`` with the model for ``source_lang``/``target_lang`` (or ``model``), with the
    terms of a ``glossary`` (inline) or ``glossary_name`` (stored with ``PUT /glossaries/{name}``) if given.

    Concurrent requests with the same model and search options share model batches, whatever their glossaries.
    """
    outcome = await run_translation(request, TranslationJob(body, owner=owner))
    route, detected = outcome.route, outcome.detected
    assert route is not None  # our API refuses text already in the target language rather than echo it
    return TranslateResponse(
        model=route.name, model_version=route.version, source_lang=route.source_lang,
        target_lang=route.target_lang, translations=[_result(t, body, outcome.policy) for t in outcome.translations],
        pivot=route.pivot, detected_language=DetectedLanguage(language=detected.language,
                                                              confidence=detected.confidence) if detected else None,
    )


def _result(translation: Translation, body: TranslateRequest, policy: ConfidencePolicy) -> TranslationResult:
    """The response entry of one translation, with only what the request asked for, and its confidence."""
    result = TranslationResult(text=translation.text)
    if translation.sentences:
        result.sentences = [
            SentenceResult(source=sentence.source or "",
                           **_result(sentence, body, policy).model_dump(exclude_none=True))
            for sentence in translation.sentences
        ]
    if translation.confidence is not None:
        result.confidence = round(translation.confidence.probability, 4)
        result.confidence_reasons = translation.confidence.reasons or None
        if policy.min_confidence is not None:
            result.low_confidence = any(is_low(sentence, policy) for sentence in translation.sentences or [translation])
    if body.return_scores:
        result.score = _finite(translation.score)
    if body.n_best > 1:
        result.n_best = [
            Candidate(text=c.text, score=_finite(c.score) if body.return_scores else None) for c in translation.n_best
        ]
    if body.return_attention and translation.alignment is not None:
        alignment = translation.alignment
        result.alignment = Alignment(
            source_pieces=alignment.source_pieces, target_pieces=alignment.target_pieces,
            weights=[[w if math.isfinite(w) else 0.0 for w in row] for row in alignment.weights],
        )
    return result


def _finite(value: float) -> float | None:
    """JSON has no infinity or NaN; such a score is reported as null."""
    return float(value) if math.isfinite(value) else None


@router.get("/models", response_model=ModelsResponse, dependencies=[Depends(require_api_key)],
            responses=_errors(401, 503), summary="What this server translates")
async def models(request: Request) -> ModelsResponse:
    """The loaded models: name, languages, version, device and the scores recorded when they were trained."""
    registry, _ = service_state(request).serving()
    return ModelsResponse(
        models=[_model_info(model) for model in registry.models],
        directions=[Direction(source_lang=route.source_lang, target_lang=route.target_lang,
                              models=[model.name for model in route.legs], pivot=route.pivot)
                    for route in reachable(registry)],
    )


def _model_info(model: LoadedModel) -> ModelInfo:
    return ModelInfo(
        name=model.name, source_lang=model.source_lang, target_lang=model.target_lang, version=model.version,
        library_version=model.metadata.get("library_version"), device=str(model.translator.device),
        dtype=model.translator.dtype, scores=model.scores(), domain=model.metadata.get("domain"),
        case_restoration=model.translator.case_restorer is not None,
        default_search={name: getattr(model.translator.default_search, name) for name in MODEL_DEFAULT_FIELDS},
        confidence=model.metadata.get("confidence") if getattr(model.translator, "calibration", None) else None,
    )


@router.get("/health", response_model=HealthResponse, summary="The process is up")
async def health() -> HealthResponse:
    """Liveness: answers as long as the event loop runs, even during a long model batch. No API key needed."""
    return HealthResponse(status="ok")


@router.get("/ready", response_model=HealthResponse, responses=_errors(503), summary="Models loaded and warm")
async def ready(request: Request) -> Response:
    """Readiness: 200 once every model is loaded and has translated a warm-up sentence, else 503."""
    state = service_state(request)
    if state.draining:
        return error_response(503, "shutting down: finishing accepted work, taking no new work",
                              {"Retry-After": str(state.settings.retry_after_s)})
    if state.ready:
        return JSONResponse({"status": "ready"})
    if state.warmup_error:
        return error_response(503, f"warm-up failed: {state.warmup_error}")
    return error_response(503, "warming up: the models are loading or translating their warm-up sentence",
                          {"Retry-After": str(state.settings.retry_after_s)})


@router.get("/metrics", dependencies=[Depends(require_api_key)], responses=_errors(401),
            summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Requests, errors, latency, batch sizes, queue depth and tokens translated, in Prometheus' text format."""
    state = service_state(request)
    return Response(state.metrics.render(), media_type=state.metrics.content_type)
