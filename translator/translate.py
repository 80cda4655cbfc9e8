"""The ``Translator``: strings in, strings out, batched and sorted by length internally.

The string API is a thin layer over the token-level seam (:mod:`translator.seam`): :meth:`Translator.prepare`
→ batches of similar length → :meth:`Translator.translate_ids` → :meth:`Translator.finish`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import torch
from torch import nn

from translator.confidence import Calibration, combine_confidences, estimate, sentence_features
from translator.glossary.entries import Glossary
from translator.glossary.matching import TermConstraint, find_terms, term_constraints
from translator.glossary.search import search_with_terms
from translator.seam import Alignment, Candidate, PreparedText, TokenTranslation, Translation, padded_tokens
from translator.text.casing import CaseRestorer, Style, capitalise_like
from translator.text.normalize import normalize_text
from translator.text.names import CAPITALISES_NOUNS, name_candidates, name_spans, restore_names
from translator.text.protect import PLACEHOLDERS, Masked, mask, unmask, unmask_pieces
from translator.store.checkpoint import load_checkpoint, resolve_device
from translator.search.protocol import DecodingModel
from translator.search.ensemble import Ensemble
from translator.model.inference import InferenceModel
from translator.model.seq2seq import Seq2Seq
from translator.search.options import SearchOptions, model_search_defaults, resolve_search
from translator.search.beam import search
from translator.search.hypotheses import Hypothesis, StepHook, hook_on
from translator.text.segment import SplitText, split_sentences
from translator.text.tokenizer import EOS_ID, PAD_ID, Tokenizer

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class Translator:
    """Translate lists of texts with a loaded model.

    >>> translator = Translator.from_pretrained("models/de-en")   # doctest: +SKIP
    >>> translator.translate(["Ein Hund läuft."], beam_size=5)     # doctest: +SKIP
    ['A dog is running.']
    """

    def __init__(
        self,
        model: Seq2Seq,
        source_tokenizer: Tokenizer,
        target_tokenizer: Tokenizer,
        metadata: dict[str, Any] | None = None,
        device: str | torch.device = "cpu",
        dtype: Literal["float32", "float16", "bfloat16"] = "float32",
        quantize: bool = False,
        version: str = "",
        case_restorer: CaseRestorer | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        self.device = resolve_device(device)
        if quantize and self.device.type != "cpu":
            raise ValueError("int8 quantization runs on the CPU only; use device='cpu'")
        if quantize and dtype != "float32":
            raise ValueError("int8 quantization needs dtype='float32'")
        model = model.to(self.device, DTYPES[dtype]).eval()
        if quantize:
            model = torch.ao.quantization.quantize_dynamic(
                model, {nn.Linear, nn.GRU, nn.LSTM}, dtype=torch.qint8
            )
        self.model = model
        # What search runs: the model with its embedding products precomputed where that applies
        # (not for int8 models, whose quantized layers do their own products).
        self.decoding_model: DecodingModel = (
            InferenceModel(model) if InferenceModel.supports(model) else model
        )
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.metadata = metadata or {}
        # How to search when a call does not say: the library's defaults, with the checkpoint's own
        # (its metadata's default_search, e.g. greedy for a distilled student) applied.
        self.default_search = model_search_defaults(self.metadata)
        self.dtype = dtype
        self.quantized = quantize
        self.version = version  # the checkpoint manifest's hash, e.g. "sha256:3f2a9c1b7d4e"
        self.case_restorer = case_restorer
        # Maps search features to a calibrated confidence (translator.confidence); None: no confidence.
        self.calibration = calibration
        self.source_fallback_ids = source_tokenizer.fallback_ids()
        # Protected spans pass through as placeholders only for a model trained with them
        # (tokenizer.placeholders: true), whose vocabularies hold them as pieces.
        self.protects_spans = source_tokenizer.has_pieces(PLACEHOLDERS) and target_tokenizer.has_pieces(PLACEHOLDERS)
        self.glossary_method = "align"  # one of translator.glossary.search.GLOSSARY_METHODS
        # Rare names are kept (translator.text.names): masked before search where capitals mark them (only for a
        # model whose metadata names its source language), and put back from the source where attention says when
        # the model garbled them.
        self.masks_names = True
        self.restores_names = True

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str | torch.device = "auto",
        dtype: Literal["float32", "float16", "bfloat16"] = "float32",
        quantize: bool = False,
    ) -> "Translator":
        """Load and verify a checkpoint directory; ``device="auto"`` picks CUDA when available, else the CPU.

        Raises:
            CheckpointError: a file is missing, changed or corrupt, or the weights are not finite.
        """
        checkpoint = load_checkpoint(path, device="cpu")
        return cls(
            checkpoint.model,
            checkpoint.source_tokenizer,
            checkpoint.target_tokenizer,
            checkpoint.metadata,
            device=device,
            dtype=dtype,
            quantize=quantize,
            version=checkpoint.version,
            case_restorer=checkpoint.case_restorer,
            calibration=checkpoint.calibration,
        )

    @classmethod
    def ensemble(
        cls,
        paths: Sequence[str | Path],
        device: str | torch.device = "auto",
        dtype: Literal["float32", "float16", "bfloat16"] = "float32",
        quantize: bool = False,
    ) -> "Translator":
        """One translator whose search averages the log-probabilities of several checkpoints.

        The checkpoints must have the same sentencepiece models (e.g. snapshots of one run);
        tokenization, casing and metadata come from the first.

        Raises:
            ValueError: fewer than two paths, or a checkpoint with other vocabularies.
        """
        if len(paths) < 2:
            raise ValueError(f"an ensemble needs at least 2 checkpoints, got {len(paths)}")
        translators = [cls.from_pretrained(path, device=device, dtype=dtype, quantize=quantize) for path in paths]
        first = translators[0]
        for path, other in zip(paths[1:], translators[1:]):
            for side in ("source_tokenizer", "target_tokenizer"):
                if getattr(other, side).model_proto != getattr(first, side).model_proto:
                    raise ValueError(f"{path} has another {side.replace('_', ' ')} than {paths[0]}; "
                                     "ensemble members must share their sentencepiece models")
        first.decoding_model = Ensemble([translator.decoding_model for translator in translators])
        first.metadata = {**first.metadata, "ensemble": [str(path) for path in paths]}
        first.calibration = None  # fitted on one member's features, not the ensemble's
        return first

    def translate(self, texts: Sequence[str], options: SearchOptions | None = None, **keywords: Any) -> list[str]:
        """Translate ``texts``; returns one string per input, in input order.

        Takes the options and keywords of :meth:`translate_detailed`.
        """
        return [result.text for result in self.translate_detailed(texts, options, **keywords)]

    def translate_paragraphs(
        self, texts: Sequence[str], language: str | None = None, **options: Any
    ) -> list[Translation]:
        """Translate running text: each text is cut into sentences, translated, and rejoined.

        Every sentence of every text goes through one :meth:`translate_detailed` call (so they
        share batches), and each translates exactly as it would alone. The result keeps the
        text's spaces and line breaks (see :func:`combine_sentences`). ``language`` picks the
        segmenter's rules; it defaults to the model's source language. Takes the keyword options
        of :meth:`translate_detailed`; ``progress`` counts sentences.
        """
        if isinstance(texts, str):
            raise TypeError("translate_paragraphs expects a list of strings, not a single string")
        language = language or self.metadata.get("source_language")
        splits = [split_sentences(text, language) for text in texts]
        flat = [sentence for split in splits for sentence in split.sentences]
        results = iter(self.translate_detailed(flat, **options))
        return [combine_sentences(split, [next(results) for _ in split.sentences]) for split in splits]

    def translate_detailed(
        self,
        texts: Sequence[str],
        options: SearchOptions | None = None,
        *,
        max_batch_sentences: int = 64,
        max_batch_tokens: int = 4096,
        progress: Callable[[int], None] | None = None,
        step_hook: StepHook | None = None,
        restore_case: bool = True,
        glossary: Glossary | None = None,
        **search_options: Any,
    ) -> list[Translation]:
        """Translate ``texts`` with scores, the n-best list and (optionally) attention.

        Inputs are sorted by length and cut into batches of at most ``max_batch_sentences``
        sentences and ``max_batch_tokens`` source pieces (padding included), so similar lengths
        share a batch; results come back in input order. ``options`` (default :attr:`default_search`,
        its beam widened to ``n_best`` if that is larger: :func:`~translator.search.options.resolve_search`)
        say how to search; keywords named like its fields (``beam_size=1``) override them. Empty or
        whitespace-only texts get an empty translation with score 0. ``progress`` is called with the
        number of sentences finished after each batch. ``step_hook`` (see :data:`~translator.search.hypotheses.StepHook`)
        is called between decoding steps with the indices into ``texts`` of the sentences being searched; the
        texts it abandons get ``None`` instead of a Translation. ``restore_case`` and ``glossary`` (terms the
        translations must use, :mod:`translator.glossary`): see :meth:`prepare`.
        """
        if isinstance(texts, str):
            raise TypeError("translate expects a list of strings, not a single string")
        if options is None:
            options = resolve_search(search_options, self.default_search)
        else:
            options = options.updated(**search_options)
        if max_batch_sentences < 1 or max_batch_tokens < 1:
            raise ValueError("max_batch_sentences and max_batch_tokens must be >= 1")
        prepared = self.prepare(texts, restore_case, glossary)
        results: list[Translation | None] = [self.finish(text) if text.blank else None for text in prepared]
        pending = [index for index, text in enumerate(prepared) if not text.blank]
        source_ids = [text.ids for text in prepared]
        for batch in _length_sorted_batches(pending, source_ids, max_batch_sentences, max_batch_tokens):
            batch_hook = hook_on(step_hook, torch.tensor(batch))
            found = self.translate_ids([source_ids[index] for index in batch], options, batch_hook,
                                       [prepared[index].terms for index in batch])
            for index, result in zip(batch, found):
                results[index] = None if result is None else self.finish(prepared[index], result)
            if progress is not None:
                progress(len(batch))
        return results  # type: ignore[return-value]

    def prepare(self, texts: Sequence[str], restore_case: bool = True,
                glossary: Glossary | None = None) -> list[PreparedText]:
        """Each text ready for :meth:`translate_ids`, tokenized once.

        Texts are normalized as the training data was (:mod:`translator.text.normalize`); for a model
        trained with placeholders, protected spans (numbers, URLs, code...) are masked
        (:mod:`translator.text.protect`); with ``restore_case`` (and a checkpoint that has a casing table),
        all-lower-case and ALL-UPPER-CASE texts are put into normal casing, and upper-case texts will get
        upper-case translations (:mod:`translator.text.casing`). With a ``glossary``, the terms each text holds
        (:func:`~translator.glossary.matching.term_constraints`) become its ``terms``.

        Raises:
            GlossaryError: a target term of ``glossary`` found in a text has characters the model cannot write.
        """
        texts = [normalize_text(text) for text in texts]
        masks: list[Masked | None] = [None] * len(texts)
        if self.protects_spans:
            masked = [mask(text, self._name_spans(text, glossary)) for text in texts]
            texts, masks = [one.text for one in masked], list(masked)
        styles: list[Style | None] = [None] * len(texts)
        if restore_case and self.case_restorer is not None:
            restored = [self.case_restorer.restore(text) for text in texts]
            texts, styles = [text for text, _ in restored], [style for _, style in restored]
        stripped = [text.strip() for text in texts]
        source_ids = self.source_tokenizer.encode(stripped)
        terms: list[tuple[TermConstraint, ...]] = [()] * len(texts)
        if glossary is not None and len(glossary):
            pieces = [self.source_tokenizer.id_to_piece(ids) for ids in source_ids]
            terms = [term_constraints(text, one, glossary, self.target_tokenizer)
                     for text, one in zip(stripped, pieces)]
        return [PreparedText(ids, not text.strip(), style, masked, found)
                for ids, text, style, masked, found in zip(source_ids, texts, styles, masks, terms)]

    def _source_pieces(self, word: str) -> int:
        """How many source pieces spell ``word``: few for a word the model knows, many for a rare one."""
        return len(self.source_tokenizer.encode([word])[0])

    def _name_spans(self, text: str, glossary: Glossary | None) -> list[tuple[int, int]]:
        """The rare proper names of ``text`` that search is to carry as placeholders
        (:func:`~translator.text.names.name_spans`), but for glossary terms, which the glossary translates."""
        source_language = self.metadata.get("source_language")
        if not self.masks_names or source_language is None:
            return []  # which capitals mark a name depends on the language (German's mark every noun): no guessing
        table = self.case_restorer if self.case_restorer is not None else CaseRestorer({}, {})
        in_target = table.target_capitalised if source_language in CAPITALISES_NOUNS else None
        spans = name_spans(text, self._source_pieces, table.lower, in_target)
        if spans and glossary is not None and len(glossary):
            terms = [span for match in find_terms(text, glossary) for span in match.spans]
            spans = [(start, end) for start, end in spans
                     if not any(start < term_end and term_start < end for term_start, term_end in terms)]
        return spans

    def translate_ids(self, batch: Sequence[Sequence[int]], options: SearchOptions,
                      step_hook: StepHook | None = None,
                      terms: Sequence[Sequence[TermConstraint]] | None = None) -> list[TokenTranslation | None]:
        """Search one batch of source ids (EOS not included) as it is: no sorting, no splitting. ``terms``: each
        source's glossary terms (its :attr:`PreparedText.terms`), which sources with other terms or none may share
        the batch with (:mod:`translator.search.constraints`).

        Returns a result per source, in order; None for a source ``step_hook`` abandoned (its indices are
        into ``batch``, see :data:`~translator.search.hypotheses.StepHook`).
        """
        if not batch:
            return []
        sequences = [list(ids) + [EOS_ID] for ids in batch]
        lengths = torch.tensor([len(s) for s in sequences], device=self.device)
        src = torch.full((len(sequences), int(lengths.max())), PAD_ID, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            src[row, : len(sequence)] = torch.tensor(sequence)
        src = src.to(self.device)
        attention = options.return_attention or (self.restores_names and any(
            name_candidates(self.source_tokenizer.id_to_piece(list(ids))) for ids in batch))
        if terms is None or not any(terms):
            result = search(self.decoding_model, src, lengths, options, attention, step_hook)
        else:
            result = search_with_terms(self.decoding_model, src, lengths, options, terms, self.target_tokenizer,
                                       attention=attention, step_hook=step_hook, method=self.glossary_method)
        return [TokenTranslation(hypotheses, options.return_attention) if hypotheses else None
                for hypotheses in result.hypotheses]

    def finish(self, prepared: PreparedText, result: TokenTranslation | None = None) -> Translation:
        """The Translation of ``prepared`` from its search result: every hypothesis detokenized, in the input's
        casing style, with its protected spans put back; the best one's attention as an :class:`Alignment`.
        A blank text needs no result: it translates to ``""`` with score 0.

        Raises:
            ValueError: ``result`` is missing for a text that is not blank.
        """
        if prepared.blank:
            return Translation("", 0.0, [Candidate("", 0.0)])
        if result is None:
            raise ValueError("finish needs the search result of a text that is not blank")
        hypotheses = result.hypotheses
        decoded = self.target_tokenizer.decode([h.token_ids for h in hypotheses])
        best = hypotheses[0]
        if self.restores_names and best.attention is not None:
            target = best.token_ids + ([EOS_ID] if best.ended_with_eos else [])
            decoded[0] = restore_names(decoded[0], self.source_tokenizer.id_to_piece(prepared.ids),
                                       self.target_tokenizer.id_to_piece(target), best.attention.float(),
                                       {position for term in prepared.terms for position in term.source_positions},
                                       self._source_pieces)
        source_text = self.source_tokenizer.decode([prepared.ids])[0]
        texts = [self._restored(capitalise_like(text, source_text), prepared) for text in decoded]
        alignment = None
        if best.attention is not None and result.attention_asked:
            source = prepared.ids + [EOS_ID]
            target = best.token_ids + ([EOS_ID] if best.ended_with_eos else [])
            source_pieces = self.source_tokenizer.id_to_piece(source)
            target_pieces = self.target_tokenizer.id_to_piece(target)
            if prepared.masked is not None:  # the pieces spell the text as written and as translated
                source_pieces = unmask_pieces(source_pieces, prepared.masked)
                target_pieces = unmask_pieces(target_pieces, prepared.masked)
            alignment = Alignment(source_pieces, target_pieces, best.attention[:, : len(source)].float().tolist())
        confidence = estimate(self.calibration, self.features(prepared, best)) if self.calibration else None
        return Translation(texts[0], best.score, [Candidate(t, h.score) for t, h in zip(texts, hypotheses)], alignment,
                           confidence=confidence)

    def features(self, prepared: PreparedText, hypothesis: Hypothesis) -> dict[str, float]:
        """The confidence features (:func:`~translator.confidence.sentence_features`) of one search result."""
        return sentence_features(prepared.ids, hypothesis, self.source_fallback_ids,
                                 [term.target_ids for term in prepared.terms])

    @staticmethod
    def _restored(output: str, prepared: PreparedText) -> str:
        """A decoded output in the input's casing style, its placeholders replaced by the input's spans (after the
        style, so the spans stay as written)."""
        output = CaseRestorer.apply_style(output, prepared.style)
        return output if prepared.masked is None else unmask(output, prepared.masked)


def combine_sentences(split: SplitText, translations: list[Translation]) -> Translation:
    """One text's translation from the translations of its sentences (in order).

    The text is rejoined with the original separators; its score is the sum of the sentences'
    scores; its k-th n-best candidate joins every sentence's k-th candidate (or its last, for a
    sentence with fewer). One sentence keeps its alignment; several are listed in ``sentences``.
    A text without sentences (empty or whitespace) translates to ``""``. Its confidence is the sentences'
    mean weighted by their characters (:func:`~translator.confidence.combine_confidences`).
    """
    if not split.sentences:
        return Translation("", 0.0, [Candidate("", 0.0)])
    n_best = []
    for k in range(max(len(t.n_best) for t in translations)):
        picked = [t.n_best[min(k, len(t.n_best) - 1)] if t.n_best else Candidate(t.text, t.score) for t in translations]
        n_best.append(Candidate(split.join([c.text for c in picked]), sum(c.score for c in picked)))
    text = split.join([t.text for t in translations])
    score = sum(t.score for t in translations)
    if len(translations) == 1:
        return Translation(text, score, n_best, translations[0].alignment, confidence=translations[0].confidence)
    sentences = [
        Translation(t.text, t.score, t.n_best, t.alignment, source=source, confidence=t.confidence)
        for t, source in zip(translations, split.sentences)
    ]
    judged = [(t.confidence, len(source)) for t, source in zip(translations, split.sentences) if source.strip()]
    confidence = combine_confidences([c for c, _ in judged], [float(w) for _, w in judged])
    return Translation(text, score, n_best, None, sentences, confidence=confidence)


def _length_sorted_batches(
    indices: list[int], source_ids: list[list[int]], max_sentences: int, max_tokens: int
) -> list[list[int]]:
    """Group ``indices`` into batches of similar source length within both budgets."""
    ordered = sorted(indices, key=lambda i: len(source_ids[i]), reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    for index in ordered:
        longest = len(source_ids[current[0]]) if current else len(source_ids[index])
        if current and (len(current) + 1 > max_sentences or padded_tokens(longest, len(current) + 1) > max_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
