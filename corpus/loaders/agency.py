"""Agency plain-text files: full articles ending in a signature like "(ILKHA)", then one-paragraph briefs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.cleaning import headline_from_sentence, is_boilerplate, normalize_text, split_sentences
from corpus.loaders.common import Provenance, RecordError, build_article, check_size, utf8_size
from corpus.models import Article, LoadProblem, LoadResult

# A trailing agency signature after the last sentence: "(AA)", "(ILKHA)", "(A.P.)" or a known name like
# "(Reuters)"; page markers such as "(VIDEO)" are not agencies.
_SIGNATURE_RE = re.compile(
    r"(?:^|(?<=[.!?\"'”’»)]))\s*"
    r"\((?!(?:PHOTOS?|VIDEOS?|UPDATED?|CORRECTED|FILE|AUDIO)\))"
    r"(?P<sig>[A-Z][A-Z. ]{0,10}[A-Z.]|Reuters|Xinhua|Kyodo|Yonhap|Bernama|Sputnik|Interfax|dpa)\)\s*$"
)
_TERMINAL = ".!?…:;,"
_CLOSERS = "\"'”’»)]"
_MAX_HEADLINE_WORDS = 25


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a text file and the 1-based line it starts on."""

    line: int
    text: str


def _is_hard_wrapped(blocks: list[list[Paragraph]]) -> bool:
    """True when lines inside blank-line separated blocks mostly break mid-sentence (a wrapped file)."""
    inner = [p.text for block in blocks for p in block[:-1]]
    if len(inner) < 3:
        return False
    open_ended = sum(1 for t in inner if t.rstrip(_CLOSERS)[-1:] not in ".!?…")
    return open_ended > 0.6 * len(inner)


def split_paragraphs(text: str) -> list[Paragraph]:
    """Split text into paragraphs: one per line, or per blank-line block when the file is hard-wrapped."""
    blocks: list[list[Paragraph]] = [[]]
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if line:
            blocks[-1].append(Paragraph(number, line))
        elif blocks[-1]:
            blocks.append([])
    blocks = [b for b in blocks if b]
    if len(blocks) > 1 and _is_hard_wrapped(blocks):
        return [Paragraph(b[0].line, " ".join(p.text for p in b)) for b in blocks]
    return [p for b in blocks for p in b]


def signature_of(text: str) -> tuple[str, str] | None:
    """Split a trailing agency signature off a paragraph: (text without it, agency) or None."""
    match = _SIGNATURE_RE.search(text)
    if not match:
        return None
    return text[: match.start()].rstrip(), match.group("sig").strip()


def is_headline(text: str) -> bool:
    """A headline line is short and does not end like a sentence (questions and exclamations allowed)."""
    words = text.split()
    if not words or len(words) > _MAX_HEADLINE_WORDS or len(text) > 250:
        return False
    end = text.rstrip(_CLOSERS)[-1:]
    if end in "?!":
        return len(words) <= 15
    return end not in _TERMINAL and signature_of(text) is None


@dataclass
class _Draft:
    """An article being assembled: headline (None for a brief) and its paragraphs."""

    line: int
    headline: str | None
    paragraphs: list[str]
    source: str | None = None


def _briefs(paragraphs: list[Paragraph]) -> list[_Draft]:
    """Each paragraph is its own brief."""
    return [_Draft(p.line, None, [p.text]) for p in paragraphs]


def _split_chunk(chunk: list[Paragraph], signed: bool) -> list[_Draft]:
    """Leading paragraphs are briefs; the first headline followed by text starts the (last) full article."""
    for i, para in enumerate(chunk):
        rest = chunk[i + 1 :]
        if is_headline(para.text) and rest:
            return [*_briefs(chunk[:i]), _Draft(para.line, para.text, [p.text for p in rest])]
    if signed and chunk:
        # Signed text without a headline line: one article titled from its first sentence.
        return [_Draft(chunk[0].line, None, [p.text for p in chunk])]
    return _briefs(chunk)


def _drafts(paragraphs: list[Paragraph]) -> list[_Draft]:
    """Group paragraphs into full articles (ending at a signature) and briefs, dropping boilerplate."""
    drafts: list[_Draft] = []
    chunk: list[Paragraph] = []
    last_source: str | None = None
    for para in paragraphs:
        signed = signature_of(para.text)
        if signed is None:
            if not is_boilerplate(normalize_text(para.text)):
                chunk.append(para)
            continue
        body, agency = signed
        if body:
            chunk.append(Paragraph(para.line, body))
        new = _split_chunk(chunk, signed=True)
        for draft in new:
            # Briefs before an article belong to the agency seen before them, if any.
            draft.source = last_source or agency
        if new:
            new[-1].source = agency
        drafts.extend(new)
        last_source = agency
        chunk = []
    tail = _split_chunk(chunk, signed=False) if last_source else _unsigned(chunk)
    for draft in tail:
        draft.source = last_source
    return drafts + tail


def _unsigned(chunk: list[Paragraph]) -> list[_Draft]:
    """A file without any signature is one article: headline line plus body, or titled from its text."""
    if not chunk:
        return []
    if is_headline(chunk[0].text) and len(chunk) > 1:
        return [_Draft(chunk[0].line, chunk[0].text, [p.text for p in chunk[1:]])]
    return [_Draft(chunk[0].line, None, [p.text for p in chunk])]


def load_agency_text(text: str, path: str, prov: Provenance) -> LoadResult:
    """Load an agency text file: signed full articles, then briefs; a headline with no text is a problem.

    A paragraph over corpus.max_record_bytes is reported and left out; the rest of the file still loads.
    """
    articles: list[Article] = []
    problems: list[LoadProblem] = []
    paragraphs: list[Paragraph] = []
    for para in split_paragraphs(text):
        try:
            # Before any per-paragraph work: a 50 MB line would cost gigabytes in word splits.
            check_size(utf8_size(para.text), prov.settings, "paragraph")
        except RecordError as exc:
            problems.append(LoadProblem(path, para.line, str(exc)))
            continue
        paragraphs.append(para)
    drafts = _drafts(paragraphs)
    if paragraphs and not drafts:
        problems.append(LoadProblem(path, paragraphs[0].line, "no article text (only boilerplate)"))
    for draft in drafts:
        body = "\n".join(draft.paragraphs)
        if draft.headline is None and len(draft.paragraphs) == 1 and is_headline(body):
            problems.append(LoadProblem(path, draft.line, f"headline without article text: {body[:80]!r}"))
            continue
        title = draft.headline
        if title is None:
            sentences = split_sentences(normalize_text(body))
            title = headline_from_sentence(sentences[0]) if sentences else ""
        try:
            articles.append(build_article(prov, title=title, body=body, source=draft.source))
        except RecordError as exc:
            problems.append(LoadProblem(path, draft.line, str(exc)))
    return LoadResult(tuple(articles), tuple(problems))
