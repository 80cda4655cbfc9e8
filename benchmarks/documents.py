"""Documents with a real model: every format's fixture translated, opened headless in LibreOffice and rendered,
and a 20-page .docx timed against the same text as plain paragraphs.

1. Each fixture of ``tests/translator/document_fixtures.py`` (docx, pptx, odt, odp, epub, html, md, srt, txt)
   is translated with ``translate_document``; the result must open in LibreOffice without help
   (``soffice --headless --convert-to pdf`` makes a PDF with pages; an EPUB, which LibreOffice does not
   import, must read back in ebooklib and its first chapter is rendered as HTML), and the first page of
   each is rendered to PNG with ``pdftoppm`` for a look.
2. A generated ~20-page .docx (German sentences of the given text file, three per paragraph, with bold and
   italic words, headings and a table) is translated as a document and, in the same run, its paragraphs'
   text through ``Translator.translate_paragraphs`` in one call. Goal (issue 23): document time < 2x plain.

    python benchmarks/documents.py --model models/de-en --text ../shared/data/multi30k/test2016.de \\
        --threads 1 --out /tmp/documents --json benchmarks/results/documents.json
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402
from tests.translator.document_fixtures import MAKERS  # noqa: E402
from translator.documents import paragraph_translator, read_document, translate_content  # noqa: E402
from translator.translate import Translator  # noqa: E402


def big_docx(sentences: list[str], words: int, seed: int = 0) -> tuple[bytes, list[str]]:
    """A report of about ``words`` words: headings every 15 paragraphs, three sentences a paragraph with a bold
    and an italic word, and a table; returns it and its paragraphs' plain text."""
    import docx

    rng = random.Random(seed)
    document, texts, count, index = docx.Document(), [], 0, 0
    while count < words:
        if len(texts) % 15 == 0:
            heading = f"Kapitel {len(texts) // 15 + 1}: {sentences[index % len(sentences)].rstrip('.')}"
            document.add_heading(heading, 1)
            texts.append(heading)
        chosen = [sentences[(index + k) % len(sentences)] for k in range(3)]
        index += 3
        words_of = " ".join(chosen).split()
        bold, italic = sorted(rng.sample(range(len(words_of)), 2))
        paragraph = document.add_paragraph(" ".join(words_of[:bold]) + " ")
        paragraph.add_run(words_of[bold]).bold = True
        paragraph.add_run(" " + " ".join(words_of[bold + 1:italic]) + " ")
        paragraph.add_run(words_of[italic]).italic = True
        paragraph.add_run(" " + " ".join(words_of[italic + 1:]))
        texts.append(paragraph.text)
        count += len(words_of)
    table = document.add_table(rows=3, cols=2)
    for row in range(3):
        for column in range(2):
            table.cell(row, column).text = sentences[(index + row * 2 + column) % len(sentences)]
            texts.append(table.cell(row, column).text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue(), texts


def open_and_render(files: dict[str, Path], folder: Path) -> dict[str, dict]:
    """Convert each file to PDF with headless LibreOffice (one process for all), count the PDF's pages, render
    its first page to PNG. ``files`` maps a format to the file LibreOffice should open."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        return {name: {"opens": None, "why": "soffice not installed"} for name in files}
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-"))
    pdfs = folder / "pdf"
    pdfs.mkdir(exist_ok=True)
    started = time.perf_counter()
    pages = [path for path in files.values() if path.suffix == ".html"]
    others = [path for path in files.values() if path.suffix != ".html"]
    # Writer/Web, LibreOffice's default for .html, exports a blank first page and drops the h1: import HTML into
    # Writer instead.
    for group, arguments in ((others, ["pdf"]), (pages, ["pdf:writer_pdf_Export", "--infilter=HTML (StarWriter)"])):
        if group:
            subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{profile}",
                            "--convert-to", *arguments[:1], *arguments[1:], "--outdir", str(pdfs), *map(str, group)],
                           capture_output=True, timeout=600)
    shutil.rmtree(profile, ignore_errors=True)
    results = {"_seconds": round(time.perf_counter() - started, 1)}
    for name, path in files.items():
        pdf = pdfs / (path.stem + ".pdf")
        pages = _pdf_pages(pdf)
        png = folder / f"{path.stem}.png"
        if pages:
            subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                            str(png.with_suffix(""))], capture_output=True, timeout=120)
        results[name] = {"opens": bool(pages), "pdf_pages": pages, "png": str(png) if png.exists() else None}
    return results


def _pdf_pages(pdf: Path) -> int:
    if not pdf.exists():
        return 0
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60).stdout
    return next((int(line.split()[-1]) for line in info.splitlines() if line.startswith("Pages:")), 0)


def check_with_libraries(name: str, data: bytes) -> bool:
    """Whether the format's own Python library reads the translated file back."""
    if name == ".docx":
        import docx
        docx.Document(io.BytesIO(data))
    elif name == ".pptx":
        import pptx
        pptx.Presentation(io.BytesIO(data))
    elif name == ".epub":
        from ebooklib import epub
        epub.read_epub(io.BytesIO(data))
    elif name == ".srt":
        import srt
        list(srt.parse(data.decode()))
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models/de-en", help="checkpoint directory (German source)")
    parser.add_argument("--text", type=Path, default=ROOT.parent / "shared/data/multi30k/test2016.de",
                        help="German sentences, one per line, for the 20-page document")
    parser.add_argument("--words", type=int, default=8000, help="words in the generated document (default 8000)")
    parser.add_argument("--beam-size", type=int, default=1, help="beam size for every translation (default 1)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/documents-benchmark"),
                        help="folder for the translated files, PDFs and PNGs")
    parser.add_argument("--skip-timing", action="store_true", help="only the formats, not the 20-page timing")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    machine = describe_machine()
    translator = Translator.from_pretrained(args.model, device="cpu")
    options = dict(beam_size=args.beam_size, max_batch_sentences=args.batch_size)
    language = translator.metadata.get("source_language")
    calls: list[int] = []

    def translate(texts: list[str]):
        calls.append(len(texts))
        return paragraph_translator(translator, language, **options)(texts)

    formats, to_open = {}, {}
    for name, make in MAKERS.items():
        data = make()
        calls.clear()
        started = time.perf_counter()
        content = read_document(data, f"fixture{name}")
        translated = translate_content(content, translate, language=language)
        seconds = time.perf_counter() - started
        target = args.out / f"{name[1:]}.en{name}"
        target.write_bytes(translated)
        formats[name] = {"segments": len(content.segments), "translate_calls": list(calls),
                         "seconds": round(seconds, 2), "bytes_in": len(data), "bytes_out": len(translated),
                         "library_reads_it": check_with_libraries(name, translated), "file": str(target)}
        if name == ".epub":  # LibreOffice does not import EPUB: render its first chapter
            chapter = args.out / "epub-chapter1.en.html"
            chapter.write_bytes(zipfile.ZipFile(io.BytesIO(translated)).read("EPUB/kapitel1.xhtml"))
            to_open[name] = chapter
        elif name in (".srt", ".md"):  # plain text to LibreOffice
            to_open[name] = target.with_name(f"{name[1:]}.en.txt")
            shutil.copy(target, to_open[name])
        else:
            to_open[name] = target
    timing: dict = {}
    if not args.skip_timing:
        sentences = [line.strip() for line in args.text.read_text(encoding="utf-8").splitlines() if line.strip()]
        data, texts = big_docx(sentences, args.words)
        (args.out / "report.de.docx").write_bytes(data)
        started = time.perf_counter()
        plain = translator.translate_paragraphs(texts, language, **options)
        plain_seconds = time.perf_counter() - started
        calls.clear()
        started = time.perf_counter()
        translated = translate_content(read_document(data, "report.de.docx"), translate, language=language)
        document_seconds = time.perf_counter() - started
        (args.out / "report.en.docx").write_bytes(translated)
        to_open["report"] = args.out / "report.en.docx"
        timing = {"words": sum(len(t.split()) for t in texts), "paragraphs": len(texts),
                  "plain_seconds": round(plain_seconds, 1), "document_seconds": round(document_seconds, 1),
                  "ratio": round(document_seconds / plain_seconds, 2), "translate_calls": list(calls),
                  "plain_characters_out": sum(len(t.text) for t in plain)}
    rendered = open_and_render(to_open, args.out)
    for name, result in formats.items():
        result.update(rendered.get(name, {}))
    if timing:
        timing.update(rendered.get("report", {}))
    rows = [f"{'format':8} {'segments':>8} {'calls':>9} {'seconds':>8} {'opens':>6} {'pages':>5}"]
    for name, result in formats.items():
        rows.append(f"{name:8} {result['segments']:8d} {'+'.join(map(str, result['translate_calls'])):>9} "
                    f"{result['seconds']:8.2f} {str(result.get('opens')):>6} {result.get('pdf_pages', 0):5d}")
    if timing:
        rows.append(f"\n20-page .docx: {timing['words']} words in {timing['paragraphs']} paragraphs; plain paragraphs "
                    f"{timing['plain_seconds']} s, document {timing['document_seconds']} s: "
                    f"{timing['ratio']}x (goal < 2x); translate calls {timing['translate_calls']}; "
                    f"opens in LibreOffice: {timing.get('opens')} ({timing.get('pdf_pages')} pages)")
    table = machine_line(machine) + f", beam {args.beam_size}\n" + "\n".join(rows)
    print_and_save(table, {"machine": machine, "code": code_version(), "model": str(args.model),
                           "beam_size": args.beam_size, "formats": formats, "twenty_pages": timing,
                           "libreoffice_seconds": rendered.get("_seconds")}, args.json)


if __name__ == "__main__":
    main()
