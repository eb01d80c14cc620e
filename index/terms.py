"""Words of questions and passages: the content terms that keyword search and sentence scoring compare."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)

# Words that carry no topic; dropping them keeps BM25 queries short and precise.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "said",
        "says",
        "say",
        "tell",
        "told",
        "news",
        "latest",
        "week",
        "weeks",
        "month",
        "year",
        "today",
        "yesterday",
        "recently",
        "recent",
        "according",
    ]
)


# Question and function words of the other languages the agencies publish in (Turkish, Arabic, Kurmanji): a
# Turkish question's "hangi" or "nedir" would otherwise count as content words when the answer's sentences are
# chosen. Only words that are no English content word or name are listed ("kim", "li", "de", "di", "da" are kept).
FOREIGN_QUESTION_WORDS = frozenset(
    _WORD.findall(
        "hangi hangisi hangisidir nedir kimdir kimin nerede nereye neden nasıl kaç kaçı ne mı mu mü mıdır midir"
        " ve ile bir bu şu için olan olarak adı adlı nelerdir oldu var ki"
        " ما ماذا من هو هي هل أي كم متى أين كيف لماذا في على إلى عن مع التي الذي و"
        " çi kî kîjan çend çawa kengê çima û bi ji yê yên ser"
    )
)


def query_terms(text: str) -> list[str]:
    """Content words of a question, lowercased, in order, without repeats."""
    words = [w.lower() for w in _WORD.findall(text)]
    return list(
        dict.fromkeys(
            w
            for w in words
            if w not in STOPWORDS and w not in FOREIGN_QUESTION_WORDS and (len(w) > 1 or w.isdigit())
        )
    )
