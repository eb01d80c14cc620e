"""Which sentence states what was asked: a small linear model over cheap features of each candidate sentence.

A quiz-style news question ("Which company...?", "How many...?") is answered by a sentence that shares the
question's rarer words *and* holds the kind of thing asked for (a name for who/which questions; for how-many
questions an amount, in digits or words but not a date's; a year for what-year questions), in a passage the
cross-encoder reads as on the question. The weights were fitted by logistic regression on the 329 RealTime QA
tuning-week questions (`python -m bench.reader_fit`). Fitted with each week left out, the sentence stating the
answer comes first for 0.392 of them and among the first three for 0.529 (0.602 / 0.806 of the 103 with a gold
article), against 0.334 / 0.486 for word overlap alone and 0.365 / 0.529 for the same features without the
passage's logit. Embedding the sentences, or scoring each with the cross-encoder, added nothing on top of these
features (`bench/reader_probe.py`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np

from index.terms import STOPWORDS

# Questions that ask for an amount, and those that ask for a name (a person, a place, an organisation...).
_QUANTITY = re.compile(
    r"\b(?:how (?:many|much|old|long|far|big|high|tall|large)|"
    r"what (?:percentage|percent|share|number|amount|age|price|proportion|fraction)|"
    # A measure named after the wh-word: "What was the record high average price ...?", "which total". Not
    # "figure" (a public figure is a person), nor past "of" ("What is the name of the rate ...?").
    r"what (?:is|was|were|are|will be|has been|had been) the(?: (?!of\b)[\w'’-]+){0,4}? (?:price|cost|"
    r"temperature|magnitude|amount|total|rate|mark|salary|fine|sum|value|speed|height|distance|population|toll|"
    r"score)s?|"
    r"which(?: [\w'’-]+)? (?:price|cost|temperature|magnitude|amount|total|rate|sum|toll|score)s?|"
    # Turkish "kaç" / "ne kadar", Arabic "كم", Kurmanji "çend".
    r"kaç\w*|ne kadar|كم|çend)\b",
    re.I,
)
_NAMED = re.compile(
    r"\b(?:who|whom|whose|which|where|what (?:company|country|state|city|team|nation|person|name|brand|"
    r"firm|organi[sz]ation|agency|group|network|airline|retailer|bank|party|region|island|province)|"
    # Turkish "kim / hangi / nerede / adı ne", Arabic "من / أي / أين / ما اسم", Kurmanji "kî / kîjan / li ku".
    r"kim\w*|hangi\w*|nerede\w*|nereye|adı ne\w*|من|أي|أين|ما اسم|kî|kîjan|li ku)\b",
    re.I,
)
# A word of two or more letters; capitalised ones ("İran", "Şanlıurfa") are names. Arabic has no case.
_CAPITALISED = re.compile(r"\b[^\W\d_][\w'’-]+")
_NUMBER = re.compile(r"\d[\d,.]*")
_MONTHS = (
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|may|june|july|august|"
    "september|october|november|december"
)
# A date's parts answer no "how many": "June 22, 2022", "5 September", "in 2016" (a year, not "2,016").
_DATE_PART = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b"
    r"|(?:1[89]|20)\d\d\b(?![,.]?\d))",
    re.I,
)
# An amount in words answers one: "for the next three months", "a dozen states".
_NUMBER_WORD = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|trillion|half|dozen)\b",
    re.I,
)
# "In which year ...?" asks for a number too, but a year: a date's year, not an amount.
_YEAR_ASKED = re.compile(r"\b(?:what|which) year\b", re.I)
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")

FEATURES = (
    "lexical",
    "passage rank",
    "position",
    "amount asked, number given",
    "name asked, new name given",
    "new names",
    "has a number",
    "length",
    "passage relevance",
)
# Fitted by bench/reader_fit.py on the 329 tuning-week questions; see FEATURES for their order. Since then dates
# are no amounts and years answer year questions; a refit would move no weight by more than 0.09.
WEIGHTS = np.array([2.83, 0.15, 0.23, 1.09, 1.38, 0.90, 0.05, 0.58, 1.06])
# A cross-encoder logit spans about -11..11; a tenth of it is on the scale of the other features.
_LOGIT_SCALE = 10.0


def new_numbers(question: str, sentence: str) -> list[str]:
    """Numbers of a sentence that the question does not already hold."""
    return [n.strip(",.") for n in _NUMBER.findall(sentence) if n.strip(",.") not in question]


def amounts_given(question: str, sentence: str) -> set[str]:
    """What a sentence gives of a number asked: new years for a year, new amounts (no dates) for an amount."""
    if _YEAR_ASKED.search(question):
        return {y for y in _YEAR.findall(sentence) if y not in question}
    if not _QUANTITY.search(question):
        return set()
    undated = _DATE_PART.sub(" ", sentence)
    words = {w.lower() for w in _NUMBER_WORD.findall(undated) if w.lower() not in question.lower()}
    return set(new_numbers(question, undated)) | words


def lowercase_words(sentences: Iterable[str]) -> frozenset[str]:
    """The words these sentences write in lower case: a capital on one of them opening a sentence is no name."""
    return frozenset(w for s in sentences for w in _CAPITALISED.findall(s) if w[0].islower())


def sentence_features(
    question: str,
    sentence: str,
    lexical: float,
    rank: int,
    position: int,
    common: frozenset[str] = frozenset(),
    relevance: float | None = None,
) -> np.ndarray:
    """The reader's features of one candidate sentence (see FEATURES); common is lowercase_words of all of them.

    relevance is the cross-encoder's logit for the sentence's passage; None (the reranker did not read it) is 0.
    When it read none of them (reranker off, another language) that changes no order; the answer's top_k
    passages are all read as long as rerank_depth is at least top_k (10 and 5 by default).
    """
    asked = question.lower()
    words = sentence.split()
    # A capitalised word that is not already in the question: a new name. The sentence's first word only when
    # its capital is not just the sentence's: "Walmart is slashing prices", not "Officials said" or "The".
    names = [
        w for w in _CAPITALISED.findall(" ".join(words[1:])) if w[0].isupper() and w.lower() not in asked
    ]
    opener = _CAPITALISED.findall(words[0]) if words else []
    if opener and opener[0][0].isupper():
        first = opener[0].lower()
        if first not in asked and first not in STOPWORDS and first not in common:
            names.append(opener[0])
    numbers = new_numbers(question, sentence)
    return np.array(
        [
            lexical,
            -math.log(max(rank, 1)),
            -math.log(1 + position),
            float(bool(amounts_given(question, sentence))),
            float(bool(_NAMED.search(question)) and bool(names)),
            min(len(names), 5) / 5,
            float(bool(numbers)),
            math.log(1 + len(words)) / 4,
            (relevance or 0.0) / _LOGIT_SCALE,
        ]
    )


def answer_scores(question: str, features: Sequence[np.ndarray]) -> np.ndarray:
    """How likely each sentence states the answer (a logit, up to a constant), from its features."""
    if not features:
        return np.zeros(0)
    return np.vstack(features) @ WEIGHTS
