"""Text around the model: normalization, sentencepiece, casing, sentence splitting, line input, HTML markup."""
