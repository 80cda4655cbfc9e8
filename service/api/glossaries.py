"""Named glossaries over HTTP: ``PUT/GET/DELETE /glossaries/{name}`` and ``GET /glossaries``, per API key; and
:func:`request_glossary` / :func:`form_glossary`, the glossary a translation request or a document upload asks
for (inline or by name).

A glossary is JSON: ``{"source term": "target term", "keep this": null}`` or a list of
``{"source": ..., "target": ...}`` / ``{"source": ..., "keep": true}`` entries (:mod:`translator.glossary`). Each
API key sees only the glossaries it stored (:mod:`service.ops.glossary_store`).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, Field

from translator.glossary import MAX_ENTRIES, MAX_TERM_CHARS, Glossary, GlossaryError, parse_glossary

from service.api.errors import InvalidRequest, ServiceError
from service.api.schemas import ErrorResponse, TranslateRequest
from service.ops.auth import request_owner
from service.ops.glossary_store import GlossaryStore, TooManyGlossaries
from service.state import service_state

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
GLOSSARY_EXAMPLE = {"Vertrag": "contract", "Acme Cloud": None}

router = APIRouter()


class GlossaryNotFound(ServiceError):
    """No glossary of that name for this API key (404)."""

    status_code = 404
    kind = "not_found"


class GlossaryInfo(BaseModel):
    """One stored glossary: its name, how many entries, and when it was last stored (Unix time)."""

    name: str
    entries: int
    updated: float


class GlossaryList(BaseModel):
    """The glossaries stored with this API key, by name."""

    glossaries: list[GlossaryInfo]


class GlossaryBody(BaseModel):
    """A stored glossary: ``entries`` as ``{"source": "target"}`` (null: kept as is)."""

    name: str
    entries: dict[str, str | None] = Field(description="source term -> target term; null keeps the term as is")


def _store(request: Request) -> GlossaryStore:
    state = service_state(request)
    if state.glossaries is None:
        state.glossaries = GlossaryStore(state.settings.glossary_db, state.settings.max_glossaries)
    return state.glossaries


def _checked_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidRequest(f"glossary name {name[:80]!r} is not allowed: use 1 to 64 letters, digits, '_', '-' "
                             "or '.', starting with a letter or digit")
    return name


def checked_glossary(value: Any) -> Glossary:
    """The glossary of a request body.

    Raises:
        InvalidRequest: naming the entry at fault (empty term, too many entries, two targets for one source, a
            term over the length limit).
    """
    try:
        return parse_glossary(value)
    except GlossaryError as error:
        raise InvalidRequest(f"bad glossary: {error}") from None


_ERRORS: dict[int | str, dict] = {code: {"model": ErrorResponse} for code in (401, 404, 413, 422)}


@router.get("/glossaries", response_model=GlossaryList, responses=_ERRORS, summary="List your glossaries")
async def list_glossaries(request: Request, owner: Annotated[str, Depends(request_owner)]) -> GlossaryList:
    """The glossaries stored with the API key of this request."""
    names = await asyncio.to_thread(_store(request).names, owner)
    return GlossaryList(glossaries=[GlossaryInfo(name=n, entries=e, updated=u) for n, e, u in names])


@router.put("/glossaries/{name}", response_model=GlossaryBody, responses=_ERRORS,
            summary="Create or replace a glossary")
async def put_glossary(
    request: Request, response: Response, name: str, owner: Annotated[str, Depends(request_owner)],
    body: Annotated[Any, Body(openapi_examples={"terms": {"summary": "Terms and a name kept as is",
                                                          "value": GLOSSARY_EXAMPLE}},
                              description=f"{{source: target}} (null keeps the term), or a list of "
                              f"{{source, target}} / {{source, keep: true}}; at most {MAX_ENTRIES} entries of at "
                              f"most {MAX_TERM_CHARS} characters")],
) -> GlossaryBody:
    """Store ``name`` for this API key (201 when new, 200 when it replaced one); it lasts until deleted."""
    glossary = checked_glossary(body)
    try:
        replaced = await asyncio.to_thread(_store(request).put, owner, _checked_name(name), glossary)
    except TooManyGlossaries:
        limit = service_state(request).settings.max_glossaries
        raise InvalidRequest(f"this API key already stores {limit} glossaries, the limit (max_glossaries); "
                             "delete one or replace one of the same name") from None
    response.status_code = 200 if replaced else 201
    return GlossaryBody(name=name, entries=glossary.as_mapping())


@router.get("/glossaries/{name}", response_model=GlossaryBody, responses=_ERRORS, summary="Read a glossary")
async def get_glossary(request: Request, name: str, owner: Annotated[str, Depends(request_owner)]) -> GlossaryBody:
    """The entries of ``name``."""
    glossary = await stored_glossary(request, owner, name)
    return GlossaryBody(name=name, entries=glossary.as_mapping())


@router.delete("/glossaries/{name}", status_code=204, responses=_ERRORS, summary="Delete a glossary")
async def delete_glossary(request: Request, name: str, owner: Annotated[str, Depends(request_owner)]) -> Response:
    """Delete ``name``; 404 when this API key has none of that name."""
    if not await asyncio.to_thread(_store(request).delete, owner, _checked_name(name)):
        raise GlossaryNotFound(_not_found(name))
    return Response(status_code=204)


async def stored_glossary(request: Request, owner: str, name: str) -> Glossary:
    """The glossary ``name`` of ``owner``.

    Raises:
        GlossaryNotFound: there is none (for this key: other keys' glossaries are not looked at).
    """
    glossary = await asyncio.to_thread(_store(request).get, owner, _checked_name(name))
    if glossary is None:
        raise GlossaryNotFound(_not_found(name))
    return glossary


def _not_found(name: str) -> str:
    return f"no glossary named {name!r} for this API key; GET /glossaries lists yours"


async def request_glossary(request: Request, body: TranslateRequest, owner: str) -> Glossary | None:
    """The glossary a translation request asks for: inline (``glossary``) or stored (``glossary_name``), or None.

    Raises:
        InvalidRequest: both given, or a bad inline glossary.
        GlossaryNotFound: no stored glossary of that name for this key.
    """
    if body.glossary is not None and body.glossary_name is not None:
        raise InvalidRequest("give glossary (the entries) or glossary_name (a stored glossary), not both")
    if body.glossary is not None:
        return checked_glossary(body.glossary)
    if body.glossary_name is not None:
        return await stored_glossary(request, owner, body.glossary_name)
    return None


async def form_glossary(request: Request, owner: str, glossary: str | None,
                        glossary_name: str | None) -> Glossary | None:
    """The glossary of a document upload's form fields: ``glossary`` holds the entries as JSON (an object or a
    list, as in a request body) or, as in the LibreTranslate extension, a stored glossary's name;
    ``glossary_name`` a stored glossary's name. None when neither is given.

    Raises:
        InvalidRequest: both given, JSON that does not parse, or a bad glossary.
        GlossaryNotFound: no stored glossary of that name for this key.
    """
    glossary = (glossary or "").strip() or None
    glossary_name = (glossary_name or "").strip() or None
    if glossary is not None and glossary_name is not None:
        raise InvalidRequest("give glossary (the entries) or glossary_name (a stored glossary), not both")
    if glossary is not None and glossary[:1] not in ("{", "["):
        glossary, glossary_name = None, glossary  # a name, as the LibreTranslate extension field takes one
    if glossary is not None:
        try:
            entries = json.loads(glossary)
        except ValueError:
            raise InvalidRequest("bad glossary: the glossary field is not valid JSON; send {\"source term\": "
                                 "\"target term\", ...} or a list of {source, target} entries") from None
        return checked_glossary(entries)
    if glossary_name is not None:
        return await stored_glossary(request, owner, glossary_name)
    return None
