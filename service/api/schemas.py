"""Request and response bodies of the HTTP API (pydantic models; /docs renders them with examples)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from translator.glossary import GlossaryError, parse_glossary
from translator.search.options import (CHECKED_FIELDS, DEFAULT_SEARCH, FIELD_NAMES, SearchLimits, SearchOptions,
                                      check_n_best, check_option, resolve_search)

MAX_OUTPUT_RATIO_LIMIT = 10.0
# The option fields' lower bounds, for /docs: the values are checked by translator.search.options.check_option.
AT_LEAST_ONE = {"minimum": 1}

TRANSLATE_EXAMPLES = {
    "one text": {
        "summary": "Translate one sentence",
        "value": {"text": "Ein Mann fährt mit dem Fahrrad.", "source_lang": "de", "target_lang": "en"},
    },
    "several texts with scores": {
        "summary": "Several texts, 3-best lists with scores",
        "value": {
            "texts": ["Zwei Hunde spielen im Schnee.", "Eine Frau liest ein Buch."],
            "source_lang": "de", "target_lang": "en", "beam_size": 5, "n_best": 3, "return_scores": True,
        },
    },
    "glossary": {
        "summary": "With a glossary: a term translated as given, a name kept",
        "value": {"text": "Der Vertrag mit Acme Cloud endet.", "source_lang": "de", "target_lang": "en",
                  "glossary": {"Vertrag": "contract", "Acme Cloud": None}},
    },
    "attention": {
        "summary": "By model name, with the attention matrix",
        "value": {"text": "A dog runs.", "model": "en-de", "return_attention": True},
    },
}


class TranslateRequest(BaseModel):
    """What to translate (``text`` or ``texts``), into what (languages or model), and how (search options)."""

    # strict: "5" is not a beam size and 1 is not true; unknown fields are a 422, not silently ignored.
    model_config = ConfigDict(strict=True, extra="forbid",
                              json_schema_extra={"examples": [e["value"] for e in TRANSLATE_EXAMPLES.values()]})

    text: str | None = Field(None, description="One text to translate (give this or texts).")
    texts: list[str] | None = Field(None, min_length=1, description="Several texts, translated in order.")
    source_lang: str | None = Field(None, max_length=32, description="Source language code, e.g. de, or auto "
                                    "to detect it (one language for all the texts of the request).")
    target_lang: str | None = Field(None, max_length=32, description="Target language code, e.g. en.")
    model: str | None = Field(None, max_length=200, description="A model name from GET /models (instead of languages).")
    beam_size: int | None = Field(
        None, json_schema_extra=AT_LEAST_ONE, description=f"Beam width; 1 is greedy search. Default: the model's "
        f"default_search (GET /models), else {DEFAULT_SEARCH.beam_size}; at most the server's max_beam_size.")
    n_best: int = Field(DEFAULT_SEARCH.n_best, json_schema_extra=AT_LEAST_ONE,
                        description="Candidates returned per text (at most beam_size).")
    max_output_length: int | None = Field(
        None, json_schema_extra=AT_LEAST_ONE, description=f"Most target pieces per translation. Default "
        f"{DEFAULT_SEARCH.max_output_length}, or the server's max_output_length when that is smaller.")
    max_output_ratio: float | None = Field(
        None, le=MAX_OUTPUT_RATIO_LIMIT, allow_inf_nan=False, json_schema_extra={"exclusiveMinimum": 0},
        description=f"Most target pieces per translation as a multiple of the source's pieces (the smaller of this "
        f"and max_output_length applies). Default {DEFAULT_SEARCH.max_output_ratio}; at most "
        f"{MAX_OUTPUT_RATIO_LIMIT}.")
    length_penalty: float | None = Field(
        None, le=10.0, allow_inf_nan=False, json_schema_extra={"minimum": 0}, description="GNMT length penalty "
        f"alpha; 0 ranks by raw log-probability. Default: the model's default_search, else "
        f"{DEFAULT_SEARCH.length_penalty}.")
    return_scores: bool = Field(False, description="Include log-probability scores.")
    return_attention: bool = Field(False, description="Include source/target pieces and the attention matrix.")
    min_confidence: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False, description="Flag (or with low_confidence refuse) sentences whose "
        "confidence is below this. Default: the server's min_confidence setting, usually none. Needs a calibrated "
        "model (GET /models: confidence).")
    low_confidence: Literal["flag", "refuse"] | None = Field(
        None, description="Below min_confidence: flag marks the sentence (low_confidence: true, with reasons); "
        "refuse answers 422 listing every low sentence and returns no translation. Default: the server's setting, "
        "usually flag.")
    glossary: Any = Field(
        None, json_schema_extra={"anyOf": [{"type": "object"}, {"type": "array"}, {"type": "null"}]},
        description="Terms the translation must use: {\"source term\": \"target term\"}, null (or \"\") "
        "keeping a term as is; or a list of {source, target} / {source, keep: true}. Matched case- and "
        "inflection-insensitively (docs/translating.md).")
    glossary_name: str | None = Field(None, max_length=64, description="A glossary stored with PUT /glossaries/{name} "
                                      "under this API key (instead of glossary).")
    split_sentences: bool = Field(True, description="Cut each text into sentences, translate them one by one "
                                  "and rejoin them with the original spaces and line breaks (the models were "
                                  "trained on single sentences). false sends each text to the model whole.")

    @field_validator(*CHECKED_FIELDS)
    @classmethod
    def _check_option(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            check_option(info.field_name, value)
        return value

    @field_validator("glossary")
    @classmethod
    def _check_glossary(cls, value: Any) -> Any:
        if value is not None:
            try:
                parse_glossary(value)
            except GlossaryError as error:
                raise ValueError(f"bad glossary: {error}") from None
        return value

    @model_validator(mode="after")
    def _check_shape(self) -> "TranslateRequest":
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of text (a string) or texts (a list of strings)")
        if self.beam_size is not None:
            check_n_best(self.n_best, self.beam_size)
        if (self.source_lang is None) != (self.target_lang is None):
            raise ValueError("give both source_lang and target_lang, or neither (and a model name)")
        return self

    def search_options(self, max_beam_size: int, max_output_length: int,
                       defaults: SearchOptions = DEFAULT_SEARCH) -> SearchOptions:
        """The library's options for this request (:func:`translator.search.options.resolve_search`): what it leaves
        out comes from ``defaults`` (the model's), lowered to the server's ``max_beam_size`` and ``max_output_length``.

        Raises:
            AboveLimit: the request asks for more than those limits.
        """
        asked = {name: getattr(self, name) for name in FIELD_NAMES if getattr(self, name) is not None}
        return resolve_search(asked, defaults, SearchLimits(max_beam_size, max_output_length))

    def all_texts(self) -> list[str]:
        """The texts to translate, in order (``text`` as a list of one)."""
        return [self.text] if self.text is not None else list(self.texts or [])


class Candidate(BaseModel):
    """One entry of an n-best list."""

    text: str
    score: float | None = Field(None, description="Log-probability after length penalty (with return_scores).")


class Alignment(BaseModel):
    """Attention of the best translation: ``weights[i][j]`` is target piece i's weight on source piece j."""

    source_pieces: list[str]
    target_pieces: list[str]
    weights: list[list[float]]


CONFIDENCE_DESCRIPTION = (
    "Calibrated probability (0 to 1) that the translation is acceptable (sentence chrF against a reference at or "
    "above the model's threshold, GET /models). Absent for a model without calibration and for empty texts. A "
    "text of several sentences: their mean weighted by characters.")


class SentenceResult(BaseModel):
    """One sentence of a text that was split into several."""

    source: str = Field(description="The source sentence, as cut from the text.")
    text: str
    score: float | None = None
    n_best: list[Candidate] | None = None
    alignment: Alignment | None = None
    confidence: float | None = Field(None, description=CONFIDENCE_DESCRIPTION)
    confidence_reasons: list[str] | None = Field(None, description="What lowered the confidence most, e.g. "
                                                 "\"source words not attended to\" (when something did).")
    low_confidence: bool | None = Field(None, description="With min_confidence: whether the confidence is below it.")


class TranslationResult(BaseModel):
    """The translation of one input text."""

    text: str = Field(description="The best translation; empty for an empty or whitespace-only input.")
    score: float | None = Field(None, description="Its score (with return_scores).")
    n_best: list[Candidate] | None = Field(None, description="The n best candidates, best first (when n_best > 1).")
    alignment: Alignment | None = Field(None, description="Attention (with return_attention), for a text of one "
                                        "sentence; a text of several has it per sentence.")
    sentences: list[SentenceResult] | None = Field(None, description="Per sentence (source, text and what was "
                                                   "asked for), when the text was split into several sentences.")
    confidence: float | None = Field(None, description=CONFIDENCE_DESCRIPTION)
    confidence_reasons: list[str] | None = Field(None, description="What lowered the confidence of its least "
                                                 "confident sentences most (sentences under 0.5).")
    low_confidence: bool | None = Field(None, description="With min_confidence: whether any sentence is below it.")


class DetectedLanguage(BaseModel):
    """The language detected for ``source_lang: "auto"``."""

    language: str
    confidence: float = Field(description="Between 0 and 1.")


class TranslateResponse(BaseModel):
    """Translations in input order, and which model made them."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "model": "de-en", "model_version": "sha256:9a8d67b566e5", "source_lang": "de", "target_lang": "en",
        "translations": [{"text": "A man rides a bike."}],
    }]})

    model: str
    model_version: str
    source_lang: str
    target_lang: str
    translations: list[TranslationResult]
    detected_language: DetectedLanguage | None = Field(None, description="With source_lang auto.")
    pivot: str | None = Field(None, description="The language translated through when no model translates the "
                              "pair directly (model then names both models, e.g. de-en+en-fr).")


class ModelInfo(BaseModel):
    """A loaded model, as GET /models describes it."""

    name: str
    source_lang: str
    target_lang: str
    version: str
    library_version: str | None = None
    device: str
    dtype: str
    scores: dict[str, Any] = Field(default_factory=dict, description="Evaluation scores from the checkpoint.")
    domain: dict[str, Any] | None = Field(
        None, description="What text the model was trained on, with recorded translations of sentences outside "
        "that domain (from its metadata), so nobody is surprised by them.")
    case_restoration: bool = Field(
        False, description="Whether all-lower-case and ALL-UPPER-CASE input is put into normal casing first.")
    default_search: dict[str, Any] = Field(
        default_factory=dict, description="The beam_size and length_penalty a request naming this model gets "
        "when it does not give them (a distilled fast model is meant for greedy search, beam_size 1).")
    confidence: dict[str, Any] | None = Field(
        None, description="Present when the model is calibrated (translations carry a confidence): the chrF an "
        "acceptable translation reaches, the search calibrated, and the held-out AUROC and calibration error.")


class Direction(BaseModel):
    """A language pair the server translates, by one model or through a pivot language."""

    source_lang: str
    target_lang: str
    models: list[str] = Field(description="The models used, in order.")
    pivot: str | None = None


class ModelsResponse(BaseModel):
    """Everything this server can translate."""

    models: list[ModelInfo]
    directions: list[Direction] = Field(default_factory=list, description="Every reachable language pair.")


class HealthResponse(BaseModel):
    """Liveness (/health) or readiness (/ready)."""

    status: Literal["ok", "ready", "warming up"]


class ErrorResponse(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "no model translates fr->en; available: "
                                                               "de->en (model 'de-en')"}]})

    detail: str = Field(description="What went wrong, naming the limit or field, and what to do.")
    errors: list[dict[str, Any]] | None = Field(None, description="One entry per invalid field (422 only).")
    low_confidence: list[dict[str, Any]] | None = Field(
        None, description="With low_confidence refuse: each sentence below min_confidence (text, sentence, source, "
        "confidence, reasons).")


class DocumentProgress(BaseModel):
    """How far a document job is, in sentences."""

    done_sentences: int
    total_sentences: int | None = Field(None, description="Known once the document is cut into sentences; it grows "
                                        "when runs whose formatting could not be placed are translated again.")
    fraction: float = Field(description="done / total, 0 before the total is known, 1 when done.")


class DocumentJobResponse(BaseModel):
    """A document job, as its creator sees it (POST /documents/jobs, GET and DELETE /documents/jobs/{id})."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "Vd3q0H6nJ6cVYvQk1c8f4A", "status": "running", "filename": "report.docx",
        "progress": {"done_sentences": 128, "total_sentences": 412, "fraction": 0.311},
    }]})

    id: str = Field(description="Random and unguessable; only the API key that created the job can use it.")
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    filename: str = Field(description="The uploaded file's name; the result is named after it.")
    progress: DocumentProgress
    result_url: str | None = Field(None, description="Where to download the translation, once done (once: it is "
                                   "deleted after a complete download).")
    downloaded: bool = Field(False, description="The result was downloaded and deleted.")
    expires_in_s: float | None = Field(None, description="Seconds until the job and its result are deleted "
                                       "(document_result_ttl_s after it finished).")
    error: str | None = Field(None, description="Why it failed.")
    error_status: int | None = Field(None, description="The HTTP status the failure would have had.")
