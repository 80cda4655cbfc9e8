"""Which models translate a language pair: one model directly, or two through English (pivoting).

When no loaded model translates ``de->fr`` but ``de->en`` and ``en->fr`` are loaded, the text is
translated into English and the English into French. A direct model always wins over a pivot.
"""

from __future__ import annotations

from dataclasses import dataclass

from translator.search.options import DEFAULT_SEARCH, SearchOptions

from service.api.errors import ModelNotFound
from service.scheduling.registry import LoadedModel, ModelRegistry

PIVOT_LANGUAGE = "en"


@dataclass(frozen=True)
class Route:
    """The models a translation passes through, in order (one, or two for a pivot)."""

    legs: tuple[LoadedModel, ...]

    @property
    def source_lang(self) -> str:
        return self.legs[0].source_lang

    @property
    def target_lang(self) -> str:
        return self.legs[-1].target_lang

    @property
    def pivot(self) -> str | None:
        """The language in between when pivoting (``en``), else None."""
        return self.legs[0].target_lang if len(self.legs) > 1 else None

    @property
    def name(self) -> str:
        """The model names joined by ``+``, e.g. ``de-en+en-fr``."""
        return "+".join(model.name for model in self.legs)

    @property
    def version(self) -> str:
        return "+".join(model.version for model in self.legs)

    @property
    def default_search(self) -> SearchOptions:
        """The search options a request leaves unsaid: its models' own defaults (e.g. greedy for a
        distilled student), or the library's when the legs of a pivot disagree."""
        defaults = {model.translator.default_search for model in self.legs}
        return defaults.pop() if len(defaults) == 1 else DEFAULT_SEARCH


def languages(registry: ModelRegistry) -> list[str]:
    """Every language some loaded model translates from or into, sorted."""
    return sorted({lang for model in registry.models for lang in (model.source_lang, model.target_lang)})


def find_route(registry: ModelRegistry, source: str, target: str) -> Route:
    """The direct model for ``source->target``, else a pivot through English.

    Raises:
        ModelNotFound: neither exists (the message lists every reachable direction).
    """
    source, target = source.strip().lower(), target.strip().lower()
    direct = registry.for_pair(source, target)
    if direct is not None:
        return Route((direct,))
    first, second = registry.for_pair(source, PIVOT_LANGUAGE), registry.for_pair(PIVOT_LANGUAGE, target)
    if first is not None and second is not None and source != target:
        return Route((first, second))
    raise ModelNotFound(
        f"no model translates {source}->{target}, directly or through {PIVOT_LANGUAGE}; "
        f"available: {', '.join(map(describe, reachable(registry)))}"
    )


def describe(route: Route) -> str:
    """``de->en (model 'de-en')`` or ``de->fr (through en: models 'de-en' and 'en-fr')``, for messages."""
    if route.pivot is None:
        return f"{route.source_lang}->{route.target_lang} (model {route.legs[0].name!r})"
    names = " and ".join(repr(model.name) for model in route.legs)
    return f"{route.source_lang}->{route.target_lang} (through {route.pivot}: models {names})"


def reachable(registry: ModelRegistry) -> list[Route]:
    """Every direction the server translates, once each: its default model (ModelRegistry.for_pair), plus each
    pivot through English where no model translates the pair directly. Other models of a pair are in /models."""
    defaults = [model for model in registry.models if registry.for_pair(model.source_lang, model.target_lang) is model]
    routes = [Route((model,)) for model in defaults]
    direct = {(model.source_lang, model.target_lang) for model in defaults}
    for first in defaults:
        for second in defaults:
            pair = (first.source_lang, second.target_lang)
            if (first.target_lang == PIVOT_LANGUAGE == second.source_lang and pair[0] != pair[1]
                    and pair not in direct):
                direct.add(pair)
                routes.append(Route((first, second)))
    return sorted(routes, key=lambda route: (route.source_lang, route.target_lang))
