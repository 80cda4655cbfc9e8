"""Console script ``translator-translate``: translate lines from a file or stdin to stdout, or a whole document
(``--input report.docx --output report.en.docx``) with its formatting kept."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from translator.text.lines import decode_lines
from translator.search.options import add_search_arguments, search_options_from_args


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every flag is documented in ``--help``."""
    parser = argparse.ArgumentParser(
        prog="translator-translate",
        description="Translate source sentences (one per line) with a trained model; writes one "
        "translation per line to stdout, in input order. With --output, translate a whole document instead "
        "(.docx, .pptx, .odt, .odp, .epub, .html, .md, .srt, .txt) and write it in the same format, formatting kept.",
    )
    parser.add_argument("model_dir", type=Path, help="checkpoint directory, e.g. models/de-en")
    parser.add_argument("-i", "--input", type=Path, help="file of source sentences (default: stdin), or the document "
                        "to translate with --output")
    parser.add_argument("-o", "--output", type=Path,
                        help="translate --input as a document and write it here, in the same format (the same "
                        "extension), e.g. --input report.docx --output report.en.docx")
    add_search_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    parser.add_argument("--scores", action="store_true", help="prefix each line with its score and a tab")
    parser.add_argument("--show-confidence", action="store_true",
                        help="prefix each line with the translation's confidence (the calibrated probability that "
                        "it is acceptable, 0 to 1), a tab, what lowered it most ('; '-separated, empty when nothing "
                        "did) and a tab; needs a model with calibration.json (translator-calibrate)")
    parser.add_argument("--running-text", action="store_true",
                        help="the input is running text (paragraphs, several sentences per line): cut it into "
                        "sentences, translate each, and write the translation with the input's spaces and line "
                        "breaks kept (not with --n-best or --scores)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1 (default auto)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                        help="compute dtype (default float32)")
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantization of linear and RNN layers (CPU)")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for torch (default 0: torch's choice, one per physical core)")
    parser.add_argument("--keep-case", action="store_true",
                        help="translate all-lower-case and ALL-UPPER-CASE input as it is, without first restoring "
                        "normal casing from the model's casing.json")
    parser.add_argument("--glossary", type=Path, metavar="TERMS.tsv",
                        help="terms the translations must use: a UTF-8 file of 'source<TAB>target' lines; a line "
                        "with no target (or the same text twice) keeps the term as it is; '#' starts a comment. "
                        "Matched case- and inflection-insensitively (docs/translating.md)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 on bad input, with a message on stderr)."""
    args = build_parser().parse_args(argv)
    # torch is imported only after the arguments parsed, so --help is instant.
    from tqdm import tqdm

    from translator.store.checkpoint import CheckpointError
    from translator.translate import Translator

    def fail(message: str) -> int:
        print(f"translator-translate: error: {message}", file=sys.stderr)
        return 2

    if args.threads < 0:
        return fail(f"--threads must be >= 0, got {args.threads}")
    from translator.glossary import GlossaryError, read_glossary_tsv

    try:
        args.glossary = read_glossary_tsv(args.glossary) if args.glossary is not None else None
    except GlossaryError as error:
        return fail(str(error))
    if args.running_text and (args.n_best > 1 or args.scores or args.show_confidence):
        return fail("--running-text writes the translated text only; it cannot be combined with --n-best, --scores "
                    "or --show-confidence")
    if args.output is not None:
        return _translate_document(args, fail)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        if args.input is not None:
            raw = _read_input(args.input, "a text file")
            if isinstance(raw, str):
                return fail(raw)
        else:
            raw = sys.stdin.buffer.read()  # bytes: text-mode stdin would turn a lone \r into a line break
        lines = decode_lines(raw, str(args.input) if args.input is not None else "stdin")
        text = "\n".join(lines) + ("\n" if raw.endswith(b"\n") else "")
        translator = Translator.from_pretrained(args.model_dir, device=args.device, dtype=args.dtype,
                                                quantize=args.quantize)
        options = search_options_from_args(args, translator.default_search)
        if args.show_confidence and translator.calibration is None:
            return fail(f"--show-confidence: {args.model_dir} has no calibration.json, so its translations have no "
                        f"confidence; calibrate it first: translator-calibrate {args.model_dir} --set NAME SRC REF ...")
        with tqdm(total=None if args.running_text else len(lines), unit="sent", file=sys.stderr,
                  disable=args.no_progress or args.input is None) as bar:
            batching = dict(max_batch_sentences=args.batch_size, progress=bar.update, restore_case=not args.keep_case,
                            glossary=args.glossary)
            if args.running_text:
                results = translator.translate_paragraphs([text], options=options, **batching)
            else:
                results = translator.translate_detailed(lines, options, **batching)
    except (CheckpointError, ValueError) as error:
        return fail(str(error))
    out = sys.stdout
    if args.running_text:
        out.write(results[0].text)
        return 0
    for result in results:  # exactly one output line per input line
        if args.show_confidence:
            confidence = result.confidence
            out.write("\t\t" if confidence is None else f"{confidence.probability:.3f}\t{'; '.join(confidence.reasons)}\t")
        if args.n_best > 1:
            out.write("\t".join(f"{c.score:.4f}\t{_one_line(c.text)}" for c in result.n_best) + "\n")
        elif args.scores:
            out.write(f"{result.score:.4f}\t{_one_line(result.text)}\n")
        else:
            out.write(_one_line(result.text) + "\n")
    return 0


def _translate_document(args: argparse.Namespace, fail: Callable[[str], int]) -> int:
    """``--input DOCUMENT --output DOCUMENT``: read and check the document, then load the model and translate
    every segment of it in shared batches, with a progress bar of sentences on stderr."""
    from tqdm import tqdm

    from translator.documents import DocumentError, read_document, paragraph_translator, translate_content
    from translator.store.atomic import write_bytes_atomic
    from translator.store.checkpoint import CheckpointError
    from translator.translate import Translator

    if args.input is None:
        return fail("--output needs --input, the document to translate")
    if args.running_text or args.n_best > 1 or args.scores or args.show_confidence:
        return fail("--output writes a translated document; it cannot be combined with --running-text, --n-best, "
                    "--scores or --show-confidence")
    if args.output.suffix.lower() != args.input.suffix.lower():
        return fail(f"--output {args.output} must have the extension of --input {args.input} ({args.input.suffix}): "
                    "a document is written in its own format")
    if args.output.resolve() == args.input.resolve():
        return fail(f"--output {args.output} is the input file; choose another name")
    data = _read_input(args.input, "a document")
    if isinstance(data, str):
        return fail(data)
    try:
        content = read_document(data, str(args.input))
        translator = Translator.from_pretrained(args.model_dir, device=args.device, dtype=args.dtype,
                                                quantize=args.quantize)
        options = search_options_from_args(args, translator.default_search)
        with tqdm(total=0, unit="sent", file=sys.stderr, disable=args.no_progress) as bar:
            def planned(sentences: int) -> None:
                bar.total += sentences
                bar.refresh()

            translate = paragraph_translator(translator, planned=planned, progress=bar.update, options=options,
                                             max_batch_sentences=args.batch_size, restore_case=not args.keep_case,
                                             glossary=args.glossary)
            translated = translate_content(content, translate, language=translator.metadata.get("source_language"))
    except DocumentError as error:
        return fail(str(error))
    except (CheckpointError, ValueError) as error:
        return fail(f"{args.input}: {error}")
    try:
        write_bytes_atomic(args.output, translated)  # an interrupted run leaves no half-written document
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}")
    return 0


def _read_input(path: Path, expected: str) -> bytes | str:
    """The bytes of ``--input``, or the message saying why it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return f"{path} does not exist"
    except IsADirectoryError:
        return f"{path} is a directory, expected {expected}"
    except OSError as error:
        return f"cannot read {path}: {error.strerror or error}"


def _one_line(text: str) -> str:
    """A translation as one output line (a line break inside it would misalign the output)."""
    return text.replace("\r\n", " ").replace("\n", " ")


if __name__ == "__main__":
    sys.exit(main())
