"""Whether an answer states the gold answer: a fair check that reads numbers and money the same in any form.

"$12,600,000", "$12.6 million" and "12.6m" are one number; "38%" and "38 percent" one share; "six months"
and "6 months" one span ("one" is left a word: it is far more often a pronoun), and so are "20 years" and
"a 20-year sentence". "&" reads as "and". A name's number reads in Roman numerals too: "Artemis I" states
"Artemis 1", and "World War 2" states "World War II". Words match as whole tokens, so the gold "6" is not
found inside "2016".
"""

from __future__ import annotations

import re

_SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}
_UNITS = ("two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen"
          " eighteen nineteen twenty")  # fmt: skip
_TENS = "thirty forty fifty sixty seventy eighty ninety"
_WORDS = {w: n for n, w in enumerate(_UNITS.split(), start=2)} | {
    w: 10 * n for n, w in enumerate(_TENS.split(), start=3)
}
_NUMBER = re.compile(
    r"[$£€]?\s?(?P<num>\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\b(?:" + "|".join(_WORDS) + r")\b)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mn|tn|m|k|b)\b)?"
    r"(?P<pct>\s?(?:%|percent\b|per cent\b))?",
    re.I,
)
_TOKEN = re.compile(r"<n:[^>]+>|\w+", re.UNICODE)
# A name's number ("Artemis 1", "World War II"): a capitalised word, then the number in either form.
_NAMED_NUMBER = re.compile(r"\b([A-Z][\w'’-]*) (\d{1,2}|[IVX]{1,6})\b")
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV", "XVI",
          "XVII", "XVIII", "XIX", "XX")  # fmt: skip
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "&": " and "})


def _canonical(m: re.Match[str]) -> str:
    num = m.group("num")
    value = float(_WORDS.get(num.lower()) or num.replace(",", "")) * _SCALES.get(
        (m.group("scale") or "").lower(), 1.0
    )
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return f" <n:{text}{'%' if m.group('pct') else ''}> "


def answer_tokens(text: str) -> list[str]:
    """Lowercased word tokens, every number (with its scale word, currency or percent) in one canonical form."""
    tokens = _TOKEN.findall(_NUMBER.sub(_canonical, text.translate(_QUOTES).lower()))
    # The word a number counts is read in the singular: "a 20-year sentence" states "20 years".
    return [
        t[:-1] if i and tokens[i - 1].startswith("<n:") and len(t) > 3 and t.endswith("s") else t
        for i, t in enumerate(tokens)
    ]


def _other_numeral(m: re.Match[str]) -> str:
    """A name's number in the other form: "Artemis 1" as "Artemis I", "World War II" as "World War 2"."""
    name, number = m.groups()
    if number.isdigit():
        return f"{name} {_ROMAN[int(number) - 1]}" if 1 <= int(number) <= len(_ROMAN) else m.group(0)
    return f"{name} {_ROMAN.index(number) + 1}" if number in _ROMAN else m.group(0)


def states_answer(answer_text: str, gold: str) -> bool:
    """The gold answer's tokens occur, in order and contiguous, among the answer's (its name's number either way)."""
    hay = answer_tokens(answer_text)
    for form in dict.fromkeys((gold, _NAMED_NUMBER.sub(_other_numeral, gold))):
        needle = answer_tokens(form)
        n = len(needle)
        if needle and any(hay[i : i + n] == needle for i in range(len(hay) - n + 1)):
            return True
    return False
