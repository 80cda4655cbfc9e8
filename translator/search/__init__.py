"""Decoding: search options, the protocol a decodable model meets, greedy/beam search, ensembles."""
