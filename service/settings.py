"""Service settings: one typed object read from ``TRANSLATOR_*`` environment variables.

Every knob of the HTTP service lives here, validated once at start-up. Tests build their own
``ServiceSettings(...)`` and pass it to :func:`service.app.create_app`; the console script and the
Docker image read the environment (and an optional ``.env`` file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "TRANSLATOR_"


class ServiceSettings(BaseSettings):
    """Configuration of the translation service (environment variable = ``TRANSLATOR_`` + upper-case name)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    # Models and hardware.
    model_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Checkpoint directories to serve, comma-separated. Empty: every checkpoint directory "
        "under models_root.",
    )
    models_root: Path = Field(Path("models"), description="Where to look for checkpoints when model_dirs is empty.")
    device: str = Field("auto", description='"auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:1", ...')
    dtype: Literal["float32", "float16", "bfloat16"] = Field("float32", description="Weights and activations type.")
    quantize: bool = Field(False, description="int8 dynamic quantization (CPU only).")
    torch_threads: int | None = Field(None, ge=1, description="Threads torch may use; default: torch's choice.")
    warmup: bool = Field(True, description="Translate one sentence per model before /ready reports ready.")

    # Network (used by the translator-serve command).
    host: str = Field("127.0.0.1", description="Address to listen on (the Docker image sets 0.0.0.0).")
    port: int = Field(8000, ge=1, le=65535, description="Port to listen on.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field("info", description="Log level.")

    # Access.
    api_key: SecretStr | None = Field(
        None, description="When set, /translate, /models, /glossaries and /metrics need it as a Bearer token or "
        "X-API-Key. Several keys, comma-separated, let several clients in, each with its own named glossaries.",
    )
    glossary_db: Path = Field(Path("glossaries.sqlite3"), description="SQLite file of the named glossaries (created "
                              "on first use).")
    max_glossaries: int = Field(100, ge=1, description="Named glossaries one API key may store.")

    # Input limits (over a limit: 413 for sizes, 422 for options, the message names the limit).
    max_text_chars: int = Field(5000, ge=1, description="Characters in one text.")
    max_texts: int = Field(64, ge=1, description="Texts in one request.")
    max_total_chars: int = Field(50_000, ge=1, description="Characters in all texts of one request.")
    max_body_bytes: int = Field(1_000_000, ge=1, description="Bytes in one request body.")
    max_keyless_body_bytes: int = Field(
        16_384, ge=1, description="With an API key set: bytes in the body of a request whose headers carry no key "
        "(LibreTranslate clients send api_key in the body); a wrong key in the headers is a 401 before the body.",
    )
    max_beam_size: int = Field(12, ge=1, description="Largest beam_size a request may ask for.")
    max_output_length: int = Field(512, ge=1, description="Largest max_output_length a request may ask for.")

    # Batching across requests and load shedding.
    batch_window_ms: float = Field(5.0, ge=0, description="How long a batch waits for more requests to join.")
    batch_max_tokens: int = Field(4096, ge=1, description="Most source positions in one model call: its sentences "
                                  "times their longest (pieces + EOS), padding included.")
    batch_max_sentences: int = Field(64, ge=1, description="Sentences per model call.")
    batch_slice_ms: float = Field(250.0, gt=0, description="A batch that has had the worker this long while "
                                  "other sentences wait hands it over between decoding steps (time slicing).")
    queue_max_sentences: int = Field(1024, ge=1, description="Sentences waiting or running; beyond: 503.")
    request_timeout_s: float = Field(30.0, gt=0, description="Longest wait for a translation; beyond: 504.")
    retry_after_s: int = Field(1, ge=0, description="Retry-After seconds sent with 503 answers.")

    # Shutdown and slow clients.
    drain_timeout_s: float | None = Field(
        None, ge=0, description="On SIGTERM, how long accepted work may take to finish before the rest is "
        "answered 503. Default: request_timeout_s + 5.",
    )
    body_timeout_s: float = Field(10.0, gt=0, description="Longest time to receive a request body; beyond: 408.")
    max_header_bytes: int = Field(16384, ge=1024, description="Bytes in the request line and headers; beyond: 431 (400 "
                                  "while still arriving).")
    header_timeout_s: float = Field(
        10.0, gt=0, description="Longest time for a request line and headers to arrive, counted from the connection "
        "opening or its last answer (bytes trickling in do not extend it); beyond, the connection is closed, with a "
        "408 if part of a request had arrived.")
    keep_alive_timeout_s: float = Field(5.0, gt=0, description="How long a connection may stay idle after an "
                                        "answer before the server closes it.")
    min_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="Sentences translated with a confidence below this are flagged or refused "
        "(low_confidence) when a request gives no min_confidence; models without calibration are exempt.")
    low_confidence: Literal["flag", "refuse"] = Field(
        "flag", description="What happens below min_confidence: flag the sentence in the answer, or refuse the "
        "request (422, naming the sentences).")
    max_connections: int = Field(1000, ge=1, description="Open connections, idle ones included; a request on one "
                                 "more gets 503 and its connection is closed.")

    # Documents (POST /documents, /documents/jobs, LibreTranslate's /translate_file).
    max_document_bytes: int = Field(16 * 1024 * 1024, ge=1, description="Bytes in one uploaded document; beyond: "
                                    "413. The upload is counted as it arrives, never held in memory whole beyond it.")
    document_sync_max_chars: int = Field(
        50_000, ge=1, description="Characters of text in a document that POST /documents translates while the client "
        "waits; beyond: 413, send it to POST /documents/jobs.")
    document_upload_timeout_s: float = Field(60.0, gt=0, description="Longest time to receive an uploaded document; "
                                             "beyond: 408.")
    document_job_timeout_s: float = Field(3600.0, gt=0, description="Longest time a document job may translate; "
                                          "beyond, it fails with a message saying so.")
    document_jobs_running: int = Field(2, ge=1, description="Document jobs translating at once; the others wait.")
    document_max_jobs: int = Field(16, ge=1, description="Document jobs waiting or translating (each read document "
                                   "is held in memory until translated); beyond: 503.")
    document_result_ttl_s: float = Field(1800.0, gt=0, description="How long a translated document (and its job) is "
                                         "kept for download; then both are deleted (a result also once it is downloaded).")
    document_dir: Path | None = Field(
        None, description="Where translated documents wait for their download (the service deletes its files there "
        "at start and at shutdown). Default: a new temporary directory, removed at shutdown.")

    @property
    def api_keys(self) -> list[str]:
        """The accepted API keys (``api_key`` split at commas); empty when the server has none."""
        if self.api_key is None:
            return []
        return [key.strip() for key in self.api_key.get_secret_value().split(",") if key.strip()]

    @property
    def drain_limit_s(self) -> float:
        """The drain limit in effect: ``drain_timeout_s``, or the request timeout plus 5 s."""
        return self.drain_timeout_s if self.drain_timeout_s is not None else self.request_timeout_s + 5

    @field_validator("model_dirs", mode="before")
    @classmethod
    def _split_model_dirs(cls, value: object) -> object:
        """Accept ``"models/de-en,models/en-de"`` or a JSON list as well as a list."""
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        """``TRANSLATOR_API_KEY=`` (empty) means no key rather than an empty key everyone knows."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _limits_fit_together(self) -> "ServiceSettings":
        if self.max_texts > self.queue_max_sentences:
            raise ValueError(
                f"max_texts ({self.max_texts}) is larger than queue_max_sentences ({self.queue_max_sentences}), "
                "so a request within the limits could never be queued; raise "
                f"{ENV_PREFIX}QUEUE_MAX_SENTENCES or lower {ENV_PREFIX}MAX_TEXTS"
            )
        if self.max_text_chars > self.max_total_chars:
            raise ValueError(
                f"max_text_chars ({self.max_text_chars}) is larger than max_total_chars ({self.max_total_chars})"
            )
        return self


def env_name(field: str) -> str:
    """The environment variable that sets ``field``, e.g. ``max_texts`` -> ``TRANSLATOR_MAX_TEXTS``."""
    return ENV_PREFIX + field.upper()
