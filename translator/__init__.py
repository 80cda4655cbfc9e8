"""A neural machine translation library: RNN encoder, additive attention decoder, batched search."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["ModelConfig", "Translation", "Translator", "__version__"]


def __getattr__(name: str) -> Any:
    """``translator.Translator`` etc., imported on first use: ``import translator.search.options`` (for a
    command's --help) does not load torch."""
    if name == "ModelConfig":
        from translator.model.config import ModelConfig

        return ModelConfig
    if name in ("Translation", "Translator"):
        from translator import translate

        return getattr(translate, name)
    raise AttributeError(f"module 'translator' has no attribute {name!r}")
