"""Decoding: search options (``options``), the protocol a decodable model meets (``protocol``), greedy
(``greedy``) and beam search (``beam``, with :func:`~translator.search.beam.search` choosing between them) over
the hypothesis tensors both keep (``hypotheses``), glossary constraints (``constraints``), ensembles."""
