"""The optional generative answer writer: an OpenAI-compatible model writes, the passages decide what stays.

The model sees the numbered passages and the question and is asked for a few sentences, each ending
with [n]. Its reply is untrusted: index/grounding.py keeps only the sentences the passages support and
renumbers their sources like every other writer. When nothing survives, or the model cannot be reached
in time, the extractive writer answers instead, with one warning in the log; the user never sees an error.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from corpus.errors import AnswerModelError
from corpus.settings import AnswerSettings
from index.chat import ChatClient, ChatMessage
from index.grounding import (
    CheckedSentence,
    DraftSentence,
    check_sentence,
    cite_checked,
    draft_sentences,
)
from index.models import Answer, Passage
from index.rerank import PairScorer
from index.terms import query_terms
from index.writers import AnswerWriter

log = logging.getLogger(__name__)

# Answers stay short on a phone screen; a chattier model is cut after this many checked sentences.
MAX_SENTENCES = 4
NOT_COVERED_REPLY = "NOT COVERED"
# The model's "NOT COVERED" (maybe "Not covered." or "NOT COVERED: ..."); "costs were not covered" is a claim.
_SAYS_NOT_COVERED = re.compile(r"^\W*not\s+covered\b", re.IGNORECASE)

SYSTEM_PROMPT = f"""You answer questions about the news using only the numbered passages you are given.
Rules:
- Write at most {MAX_SENTENCES} short sentences of plain text, no lists, no headings.
- Use only facts stated in the passages; never add outside knowledge.
- End every sentence with the number of the passage it comes from in square brackets, like [2].
- If the passages do not answer the question, reply exactly: {NOT_COVERED_REPLY}"""

# Called with the checked answer so far; the bot edits its message with it.
AnswerProgress = Callable[[Answer], None]


def prompt_messages(
    question: str, passages: Sequence[Passage], topic: str | None = None
) -> list[ChatMessage]:
    """The system rules and one user message: numbered passages (headline, source, date, text), question."""
    blocks = []
    for n, p in enumerate(passages, start=1):
        meta = ", ".join(
            part for part in (p.source, p.published_at.date().isoformat() if p.published_at else None) if part
        )
        head = f"[{n}] {p.title}" + (f" ({meta})" if meta else "")
        blocks.append(f"{head}\n{' '.join(p.text.split())}")
    user = "Passages:\n\n" + "\n\n".join(blocks) + "\n\n"
    if topic and set(query_terms(topic)) - set(query_terms(question)):
        # A follow-up ("and the bridge?") means little without the earlier question it continues.
        user += f"Earlier in the conversation: {topic}\n"
    user += f"Question: {question}"
    return [ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", user)]


@dataclass(frozen=True)
class CheckedReply:
    """A model's reply after the check: the cited answer of its supported sentences, and what it dropped."""

    answer: Answer
    drafted: int
    kept: int
    said_not_covered: bool


def _drafts(reply: str) -> list[DraftSentence]:
    return [d for d in draft_sentences(reply) if not _SAYS_NOT_COVERED.match(d.text)]


def check_reply(
    question: str, reply: str, passages: Sequence[Passage], scorer: PairScorer | None = None
) -> CheckedReply:
    """The reply's supported sentences (at most MAX_SENTENCES) as a cited Answer."""
    drafts = _drafts(reply)
    kept: list[CheckedSentence] = []
    for draft in drafts:
        checked = check_sentence(draft, passages, scorer)
        if checked is not None:
            kept.append(checked)
        if len(kept) == MAX_SENTENCES:
            break
    return CheckedReply(
        cite_checked(question, kept, passages),
        drafted=len(drafts),
        kept=len(kept),
        said_not_covered=any(_SAYS_NOT_COVERED.match(d.text) for d in draft_sentences(reply)),
    )


class LlmWriter:
    """An AnswerWriter that has an OpenAI-compatible model write and keeps only what the passages support."""

    def __init__(
        self,
        settings: AnswerSettings,
        fallback: AnswerWriter,
        scorer: PairScorer | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.fallback = fallback
        self.scorer = scorer
        self.client = ChatClient(settings, transport)

    def write(self, question: str, passages: Sequence[Passage], topic: str | None = None) -> Answer:
        """The model's checked answer, or the fallback writer's when the model fails or nothing survives."""
        return self._write(question, passages, topic, None)

    def write_streaming(
        self,
        question: str,
        passages: Sequence[Passage],
        on_progress: AnswerProgress,
        topic: str | None = None,
    ) -> Answer:
        """Like write(), streamed: on_progress gets the checked answer each time a sentence survives."""
        return self._write(question, passages, topic, on_progress)

    def _write(
        self,
        question: str,
        passages: Sequence[Passage],
        topic: str | None,
        on_progress: AnswerProgress | None,
    ) -> Answer:
        if not passages:
            return self.fallback.write(question, passages, topic)
        messages = prompt_messages(question, passages, topic)
        started = time.perf_counter()
        try:
            if on_progress is None:
                reply = self.client.complete(messages)
            else:
                reply = self.client.stream(
                    messages, _SentenceFeed(question, passages, self.scorer, on_progress)
                )
        except AnswerModelError as exc:
            return self._fall_back(question, passages, topic, str(exc))
        seconds = time.perf_counter() - started
        checked = check_reply(question, reply, passages, self.scorer)
        if not checked.answer.answered:
            reason = (
                "the model said the passages do not cover the question"
                if checked.said_not_covered and not checked.drafted
                else f"none of the {checked.drafted} sentence(s) of its reply is supported by the passages"
            )
            return self._fall_back(question, passages, topic, reason)
        log.info(
            "llm answer in %.1fs: %d of %d sentence(s) kept, %d source(s)",
            seconds,
            checked.kept,
            checked.drafted,
            len(checked.answer.citations),
        )
        return checked.answer

    def _fall_back(
        self, question: str, passages: Sequence[Passage], topic: str | None, reason: str
    ) -> Answer:
        log.warning("llm answer writer: %s; the extractive writer answers instead", reason)
        return self.fallback.write(question, passages, topic)


class _SentenceFeed:
    """Turns streamed text into progress calls: the checked answer each time a new sentence survives."""

    def __init__(
        self,
        question: str,
        passages: Sequence[Passage],
        scorer: PairScorer | None,
        on_progress: AnswerProgress,
    ) -> None:
        self.question = question
        self.passages = passages
        self.scorer = scorer
        self.on_progress = on_progress
        self._done = 0
        self._kept: list[CheckedSentence] = []

    def __call__(self, text: str) -> None:
        drafts = _drafts(text)
        # The last sentence may still be growing (and its marker may not have arrived yet).
        finished = drafts[:-1]
        grew = False
        for draft in finished[self._done :]:
            checked = check_sentence(draft, self.passages, self.scorer)
            if checked is not None and len(self._kept) < MAX_SENTENCES:
                self._kept.append(checked)
                grew = True
        self._done = len(finished)
        if grew:
            self.on_progress(cite_checked(self.question, self._kept, self.passages))


def write_answer(
    writer: AnswerWriter,
    question: str,
    passages: Sequence[Passage],
    topic: str | None,
    on_progress: AnswerProgress | None = None,
) -> Answer:
    """writer.write(), streamed through on_progress when asked and the writer can stream."""
    if on_progress is not None and isinstance(writer, LlmWriter):
        return writer.write_streaming(question, passages, on_progress, topic=topic)
    return writer.write(question, passages, topic=topic)


def answer_writer(
    settings: AnswerSettings, extractive: AnswerWriter, scorer: PairScorer | None = None
) -> AnswerWriter:
    """The writer the [answer] settings name: the extractive one, or the model with it as the fallback."""
    if settings.writer == "llm":
        return LlmWriter(settings, extractive, scorer)
    return extractive
