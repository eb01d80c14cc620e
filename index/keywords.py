"""The keyword (BM25) side in more languages than English: Snowball stems of passages and of questions.

FTS5's own tokenizer (`porter unicode61 remove_diacritics 2`) stems English only; a Turkish word carries
its case and possessive as suffixes ("demiryolu", "demiryolunun", "demiryolları"), so the same word in
another form would never match. Passages of an article in a language with a Snowball stemmer (Turkish,
Arabic, Persian, German, French ...) are therefore indexed as their stems, and a question in such a
language searches for its stems besides its own words. English keeps FTS5's porter stemming exactly as
before: its passages are indexed as written and its questions search for the same terms as before.
"""

from __future__ import annotations

import re

import snowballstemmer

from index.terms import query_terms

# Language code -> Snowball algorithm. English stays with FTS5's porter tokenizer; Kurdish has none.
SNOWBALL: dict[str, str] = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "es": "spanish",
    "eu": "basque",
    "fa": "persian",
    "fi": "finnish",
    "fr": "french",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that carry no topic in a question, per stemmed language (the English list is index/terms.py).
STOPWORDS: dict[str, frozenset[str]] = {
    "tr": _words(
        "ve veya ile ama fakat için gibi kadar daha çok en bu şu o bir de da mi mı mu mü ne neden nasıl"
        " nerede ne zaman hangi kim kimin kime hakkında ile ilgili olan oldu olarak diye ki var yok ise"
        " son haber haberler bugün dün hafta ay yıl ın in un ün nın nin nun nün da de ta te"
        " söyledi dedi açıkladı"
    ),
    "ar": _words(
        "في من على إلى عن مع هل ما ماذا متى أين كيف لماذا من هو هي التي الذي و أو ثم قد لقد كان كانت"
    ),
    "fa": _words("و در به از که این آن با برای را تا یا چه چرا کجا کی چگونه است بود شد"),
}

_WORD = re.compile(r"\w+", re.UNICODE)


def _language(code: str | None) -> str | None:
    """The primary subtag ("pt-br" -> "pt"), lower-cased."""
    return code.split("-")[0].lower() if code else None


def _lower(text: str, language: str) -> str:
    """Lower-case as the language does: Turkish has a dotted and a dotless i."""
    if language in ("tr", "az"):
        text = text.replace("I", "ı").replace("İ", "i")
    return text.lower()


def _fold(stem: str) -> str:
    """The dotless ı folded into i after stemming, so a stem matches the word typed on an English keyboard."""
    return stem.replace("ı", "i")


class Stemmer:
    """Snowball stems of one language's words; None from for_language() when it has no stemmer here."""

    def __init__(self, language: str, algorithm: str) -> None:
        self.language = language
        self._snowball = snowballstemmer.stemmer(algorithm)

    @classmethod
    def for_language(cls, code: str | None) -> Stemmer | None:
        """The stemmer of a language code, None for English (porter in FTS5) and unsupported languages."""
        language = _language(code)
        algorithm = SNOWBALL.get(language or "")
        return cls(language, algorithm) if language and algorithm else None

    def stems(self, text: str) -> list[str]:
        """The stem of every word of `text`, in order."""
        words = _WORD.findall(_lower(text, self.language))
        return [_fold(s) for s in self._snowball.stemWords(words)]


def keyword_text(text: str, language: str | None) -> str | None:
    """What the keyword index holds for a passage's text: its stems, or None to index the text as written."""
    stemmer = Stemmer.for_language(language)
    return " ".join(stemmer.stems(text)) if stemmer else None


def keyword_terms(question: str, language: str | None) -> list[str]:
    """The terms BM25 searches for: the question's content words, plus their stems in its language.

    An English (or unknown-language) question gets exactly query_terms(); the words as typed stay in every
    language, so an English article still matches a name or a number in a Turkish question.
    """
    terms = query_terms(question)
    stemmer = Stemmer.for_language(language)
    if stemmer is None:
        return terms
    stop = STOPWORDS.get(stemmer.language, frozenset())
    words = [w for w in _WORD.findall(_lower(question, stemmer.language)) if w not in stop]
    stems = [s for s in stemmer.stems(" ".join(words)) if s not in stop and (len(s) > 1 or s.isdigit())]
    kept = [t for t in terms if t not in stop and _lower(t, stemmer.language) not in stop]
    return list(dict.fromkeys([*kept, *stems]))
