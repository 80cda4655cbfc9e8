"""Documents: read a file into translatable segments and write it back translated, formatting kept.

``formats`` (which formats, told apart by content), ``safety`` (limits, zip-bomb, path and entity checks,
the errors), ``archive`` (zip members), ``content`` (what a reader returns; text files), ``inline`` (a
paragraph's runs as HTML with inline tags and back), ``paragraphs`` (run-element paragraphs), ``pipeline``
(all segments of a document translated in one call, tags placed by attention); one module per format family:
``ooxml`` (.docx, .pptx), ``odf`` (.odt, .odp), ``epub``, ``webpage`` (.html), ``markdown``, ``subtitles``
(.srt), ``plain`` (.txt). It imports only ``translator``.
"""

from translator.documents.content import Content
from translator.documents.formats import FORMATS, read_document, supported_formats
from translator.documents.pipeline import (SegmentTranslation, Translate, paragraph_translator, translate_content,
                                          translate_document)
from translator.documents.safety import DocumentError, DocumentTooLarge, Limits, UnsupportedFormat

__all__ = ["FORMATS", "Content", "DocumentError", "DocumentTooLarge", "Limits", "SegmentTranslation", "Translate",
           "UnsupportedFormat", "paragraph_translator", "read_document", "supported_formats", "translate_content",
           "translate_document"]
