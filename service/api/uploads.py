"""Uploaded documents: a ``multipart/form-data`` body read as it arrives, within the document limits.

The body is parsed while it streams in (Starlette's multipart parser over python-multipart), the file
spooled to disk past 1 MiB, so an upload costs at most that much memory until the whole file is in. The
form's other fields (languages, ``api_key``) are short and capped. A request whose headers carry no API key
(LibreTranslate's clients send ``api_key`` as a form field) may send only ``max_keyless_body_bytes`` until
its key has been read from a field *before the file*: a wrong key there is refused as soon as the file part
starts, before a byte of the file is stored; a key after the file is checked once the (small) form is in. The body-size limit (:class:`service.ops.limits.UploadAllowance`)
counts every byte, and the file is also counted here, so the 413 names the document limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Callable

from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from service.api.errors import InvalidRequest, LimitExceeded
from service.ops.limits import ALLOWANCE, UploadAllowance
from service.settings import ServiceSettings, env_name

MAX_FIELD_BYTES = 16 * 1024
MAX_FIELDS = 16


def upload_body_bytes(settings: ServiceSettings) -> int:
    """The most bytes an upload's body may have: the document, and room for the form's fields and boundaries."""
    return settings.max_document_bytes + 64 * 1024


@dataclass(frozen=True)
class Upload:
    """An uploaded document: its file name as the client gave it (directories dropped), its bytes, and the
    form's other fields."""

    filename: str
    data: bytes
    fields: dict[str, str]


class _Parser(MultiPartParser):
    """Starlette's streaming multipart parser, calling ``before_file(fields)`` when the file part starts and
    counting the file's bytes against ``max_bytes``."""

    def __init__(self, request: Request, before_file: Callable[[dict[str, str]], None], max_bytes: int) -> None:
        super().__init__(request.headers, request.stream(), max_files=1, max_fields=MAX_FIELDS,
                         max_part_size=MAX_FIELD_BYTES)
        self.before_file = before_file
        self.max_bytes = max_bytes
        self.file_bytes = 0

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        if self._current_part.file is not None:
            self.before_file({name: value for name, value in self.items if isinstance(value, str)})

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None:
            self.file_bytes += end - start
            if self.file_bytes > self.max_bytes:
                raise LimitExceeded(
                    f"the document has more than {self.max_bytes} bytes; the limit is {self.max_bytes} bytes "
                    f"(max_document_bytes, {env_name('max_document_bytes')})", {"Connection": "close"})
        super().on_part_data(data, start, end)


async def read_upload(request: Request, max_bytes: int,
                      check_key: Callable[[dict[str, str]], bool] | None = None) -> Upload:
    """The document of a ``multipart/form-data`` request, in a field named ``file``.

    ``check_key(fields)`` is called with the fields sent before the file; it raises to refuse the request, and
    returns True when the fields held the right key (the upload may then send up to ``max_bytes``).

    Raises:
        InvalidRequest: not a multipart form, no ``file`` field, an empty file, a malformed form.
        LimitExceeded: over ``max_bytes`` (or over ``max_keyless_body_bytes`` before a key).
        ServiceError: whatever ``check_key`` raises; BodyTimedOut when the upload is too slow.
    """
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise InvalidRequest("send the document as multipart/form-data with the file in a field named file "
                             "(curl -F file=@report.docx ...)")
    allowance: UploadAllowance | None = request.scope.get(ALLOWANCE)

    def before_file(fields: dict[str, str]) -> None:
        if check_key is not None and check_key(fields) and allowance is not None:
            allowance.grant()

    parser = _Parser(request, before_file, max_bytes)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise InvalidRequest(f"the form could not be read: {error}") from None
    try:
        fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidRequest("the form has no file: send the document in a field named file")
        data = await upload.read()
        filename = PurePath((upload.filename or "").replace("\\", "/")).name
    finally:
        await form.close()
    if not data:
        raise InvalidRequest(f"{filename or 'the file'} is empty")
    return Upload(filename, data, fields)
