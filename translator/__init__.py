"""A neural machine translation library: RNN encoder, additive attention decoder, batched search."""

__version__ = "0.1.0"

from translator.config import ModelConfig  # noqa: E402
from translator.translate import Translation, Translator  # noqa: E402

__all__ = ["ModelConfig", "Translation", "Translator", "__version__"]
