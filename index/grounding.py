"""Checks a model's reply against the passages it was shown: only supported, cited sentences survive.

A sentence is kept when the passages it cites (by their [n] in the prompt) hold enough of its content
words, every number and every name (a capitalised word inside the sentence) it states, and (with a cross-encoder) are not judged unrelated to it. A sentence
without a marker is kept only when one passage clearly supports it. Survivors are cited like cite():
sources numbered by article in reading order; each citation quotes the passage sentence that best
supports the first sentence citing it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from corpus.cleaning import split_sentences
from index.models import Answer, Passage
from index.rerank import PairScorer, passage_text
from index.terms import query_terms
from index.writers import SourceNumbering, not_covered, strip_markers, with_marker

# Share of a sentence's (weighted) content words its cited passages must hold.
MIN_SUPPORT = 0.6
# A sentence the model left unmarked gets a source only when one passage holds clearly more of it.
MIN_SUPPORT_UNMARKED = 0.75
# With a cross-encoder: a (sentence, passage) logit below this means the passage is about something else.
# ms-marco logits run about -11..+10: on the sample corpus a sentence restating its passage scored -3..+10
# (pronoun-led ones lowest), the same sentence against other articles' passages -8..-11.
MIN_LOGIT = -6.0
# Names and numbers carry the claim; a made-up name weighs more than a made-up verb.
_NAME_WEIGHT = 2.0

_WORD = re.compile(r"\w+", re.UNICODE)
_MARKER = re.compile(r"\[(\d+)\]")
# "[1, 2]", "[1-2]", "[Passage 1]", "[source 2; 3]" -> "[1][2]"; small models vary the format.
_LOOSE_MARKER = re.compile(
    r"\[\s*(?:(?:passage|source|doc(?:ument)?)\s*)?(\d+(?:\s*[,;–-]\s*(?:(?:passage|source)\s*)?\d+)*)\s*\]",
    re.IGNORECASE,
)
# "... Seversk. [3] Hamas ..." and "... Bolivia.[2] The ...": a marker after the full stop still belongs
# to the sentence before it.
_MARKS_AFTER_STOP = re.compile(r"([.!?]+)[ \t]*((?:\[\d+\][ \t]*)+)")
_MARKDOWN = re.compile(r"\*\*|__|`|^\s*(?:[-*•]|\d+[.)])\s+|^#+\s*", re.MULTILINE)
# "Answer: ..." is a label, not part of the claim.
_LABEL = re.compile(r"^\s*(?:final\s+|short\s+)?answer\s*:\s*", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class DraftSentence:
    """One sentence of the model's reply: its text without markers and the passage numbers it cites."""

    text: str
    markers: tuple[int, ...]


@dataclass(frozen=True)
class CheckedSentence:
    """A sentence that survived the check, with the passages that support it, best first."""

    text: str
    passages: tuple[Passage, ...]
    support: float


@dataclass(frozen=True)
class _Words:
    """A text's content words with their weights, and the stems they match by."""

    weights: dict[str, float]
    # The words a sentence may not make up: its numbers and the names inside it.
    required: frozenset[str]


def _stem(word: str) -> str:
    # A shared five-letter start matches inflections (discuss ~ discussed, build ~ building).
    return word if word.isdigit() or len(word) < 5 else word[:5]


def _words(text: str) -> _Words:
    """Content words of a text, names (capitalised in the text) and numbers weighted up."""
    tokens = _WORD.findall(text)
    names = {w.lower() for w in tokens if w[:1].isupper()}
    # The first word is capitalised anyway ("Officials said"); a name there still weighs more.
    inner_names = {w.lower() for w in tokens[1:] if w[:1].isupper()}
    weights = {w: _NAME_WEIGHT if w in names or _is_number(w) else 1.0 for w in query_terms(text)}
    return _Words(weights, frozenset(w for w in weights if _is_number(w) or w in inner_names))


def _is_number(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _vocabulary(text: str) -> set[str]:
    """Every word of a text and its stem, lowercased, to look sentence words up in."""
    words = {w.lower() for w in _WORD.findall(text)}
    return words | {_stem(w) for w in words}


def _covered(words: _Words, vocabulary: set[str]) -> set[str]:
    return {w for w in words.weights if w in vocabulary or _stem(w) in vocabulary}


def _share(words: _Words, covered: set[str]) -> float:
    total = sum(words.weights.values())
    return sum(words.weights[w] for w in covered) / total if total else 0.0


def shown_text(passage: Passage) -> str:
    """What the model was shown of a passage: headline, source, date and text."""
    date = passage.published_at.date().isoformat() if passage.published_at else ""
    return " ".join(part for part in (passage.title, passage.source or "", date, passage.text) if part)


def draft_sentences(reply: str) -> list[DraftSentence]:
    """The reply's sentences with the [n] markers each carries (markers after a full stop go before it)."""
    text = _LABEL.sub("", _MARKDOWN.sub("", reply))
    text = _LOOSE_MARKER.sub(lambda m: "".join(f"[{n}]" for n in _expand(m.group(1))), text)
    text = _MARKS_AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)} ", text)
    out = []
    for sentence in split_sentences(text):
        markers = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(sentence)))
        plain = " ".join(_MARKER.sub(" ", sentence).split())
        plain = re.sub(r"\s+([.!?,;:])", r"\1", plain)
        if plain or markers:
            out.append(DraftSentence(plain, markers))
    return out


def _expand(group: str) -> list[int]:
    """'1, 3' -> [1, 3]; '2-4' -> [2, 3, 4] (a short range only)."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        ends = [int(n) for n in re.findall(r"\d+", part)]
        if len(ends) == 2 and 0 < ends[1] - ends[0] <= 5:
            numbers.extend(range(ends[0], ends[1] + 1))
        else:
            numbers.extend(ends)
    return numbers


def check_sentence(
    sentence: DraftSentence, passages: Sequence[Passage], scorer: PairScorer | None = None
) -> CheckedSentence | None:
    """The sentence with its supporting passages, or None when it cites an unlisted passage or is unsupported."""
    words = _words(sentence.text)
    if not words.weights:
        return None  # "Here is the answer:" states nothing to cite
    if any(not 1 <= n <= len(passages) for n in sentence.markers):
        return None
    vocab = {id(p): _vocabulary(shown_text(p)) for p in passages}
    if sentence.markers:
        cited = [passages[n - 1] for n in sentence.markers]
        chosen = _cover(words, cited, vocab)
        threshold = MIN_SUPPORT
    else:
        # The model ignored the format: attach the one passage that holds most of the sentence.
        best = max(passages, key=lambda p: (_share(words, _covered(words, vocab[id(p)])), -p.rank))
        chosen = [best]
        threshold = MIN_SUPPORT_UNMARKED
    covered = set().union(*(_covered(words, vocab[id(p)]) for p in chosen))
    support = _share(words, covered)
    if support < threshold or not words.required <= covered:
        return None
    if scorer is not None:
        logits = scorer.score(sentence.text, [passage_text(p) for p in chosen])
        if float(logits.max()) < MIN_LOGIT:
            return None
    return CheckedSentence(sentence.text, tuple(chosen), support)


def _cover(words: _Words, cited: Sequence[Passage], vocab: dict[int, set[str]]) -> list[Passage]:
    """The fewest cited passages that hold enough of the sentence, greedily (most supporting first)."""
    chosen: list[Passage] = []
    covered: set[str] = set()
    remaining = list(cited)
    while remaining and (_share(words, covered) < MIN_SUPPORT or not words.required <= covered):
        adds = [_covered(words, vocab[id(p)]) - covered for p in remaining]
        i = max(range(len(remaining)), key=lambda i: (_share(words, covered | adds[i]), -i))
        if not adds[i]:
            break
        chosen.append(remaining.pop(i))
        covered |= adds[i]
    return chosen or list(cited[:1])


def best_quote(text: str, passage: Passage) -> str:
    """The passage sentence that holds most of the text's content words (the first one on a tie)."""
    words = _words(text)
    sentences = split_sentences(passage.text) or [passage.text]
    return max(sentences, key=lambda s: _share(words, _covered(words, _vocabulary(s))))


def cite_checked(question: str, checked: Sequence[CheckedSentence], passages: Sequence[Passage]) -> Answer:
    """The checked sentences as an Answer, sources numbered by article in reading order like cite()."""
    if not checked:
        return not_covered(question, passages)
    sources = SourceNumbering()
    parts: list[str] = []
    for sentence in checked:
        marks: list[int] = []
        for passage in sentence.passages:
            n = sources.number(passage, strip_markers(best_quote(sentence.text, passage)))
            if n not in marks:
                marks.append(n)
        # with_marker places one [n] before the final punctuation; the others follow it there.
        first, *rest = marks
        marked = with_marker(sentence.text, first)
        if rest:
            marked = marked.replace(f" [{first}]", f" [{first}]" + "".join(f"[{n}]" for n in rest), 1)
        parts.append(marked)
    return Answer(
        question=question,
        answered=True,
        text=" ".join(parts),
        citations=tuple(sources.citations),
        passages=tuple(passages),
    )
