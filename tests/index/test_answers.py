"""Cited answers over the bundled sample corpus, with the real model, FAISS and SQLite."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corpus.settings import IndexSettings
from index.embeddings import CachedEmbedder, Embedder, EmbeddingCache, QueryEncoder
from index.extractive import (
    ExtractiveWriter,
    SentenceCandidate,
    candidate_sentences,
    passage_sentences,
    score_sentences,
    shortlist_candidates,
)
from index.models import Passage
from index.query import Query
from index.service import NewsService


def test_sample_corpus_yields_five_articles(sample_service: NewsService) -> None:
    stats = sample_service.stats()
    assert stats.articles == 5
    assert stats.passages >= 5
    assert stats.vectors == stats.passages


def test_iran_azerbaijan_projects_are_named_and_cited(sample_service: NewsService) -> None:
    answer = sample_service.ask(Query("What projects did Iran and Azerbaijan discuss?"))
    assert answer.answered
    assert "Rasht–Astara railway" in answer.text
    assert "Aghband–Kalalah bridge" in answer.text
    assert answer.citations[0].title.startswith("Iran–Azerbaijan ties enter new phase")
    assert answer.citations[0].source == "ILKHA"
    # Every sentence of the answer carries a marker that points at a listed citation.
    numbers = {c.n for c in answer.citations}
    for sentence in re.split(r"(?<=[.!?])\s+", answer.text):
        marks = {int(m) for m in re.findall(r"\[(\d+)\]", sentence)}
        assert marks and marks <= numbers


@pytest.mark.parametrize(
    ("question", "expected_title", "expected_text"),
    [
        ("Which city did Russia say it took full control of?", "Seversk", "Seversk"),
        ("Why did Hamas denounce Bolivia?", "Hamas", "Israel"),
        ("What did the SBU drone strike hit in the Caspian Sea?", "Ukraine’s Security Service", "Filanovsky"),
        ("Why is the Bulgarian government resigning?", "Bulgaria’s Prime Minister", "no-confidence"),
    ],
)
def test_briefs_are_answered_from_their_own_article(
    sample_service: NewsService, question: str, expected_title: str, expected_text: str
) -> None:
    answer = sample_service.ask(Query(question))
    assert answer.answered
    assert expected_text in answer.text
    assert expected_title in answer.citations[0].title
    assert answer.passages[0].title == answer.citations[0].title


@pytest.mark.parametrize(
    "question",
    ["Who won the 2018 World Cup?", "What is the capital of France?", "How is the weather in Tokyo?"],
)
def test_questions_the_news_does_not_cover_are_not_answered(
    sample_service: NewsService, question: str
) -> None:
    answer = sample_service.ask(Query(question))
    assert not answer.answered
    assert answer.citations == ()
    assert "does not cover" in answer.text


@pytest.mark.parametrize(
    "question", ["Who won the election in Azerbaijan?", "When will the Baku metro open?"]
)
def test_a_question_whose_best_passage_the_reranker_finds_off_topic_is_not_answered(
    sample_service: NewsService, question: str
) -> None:
    answer = sample_service.ask(Query(question))
    assert not answer.answered and answer.citations == ()
    assert "does not cover" in answer.text
    # Without the cross-encoder's floor the nearest story's sentence would have been quoted as the answer.
    settings = sample_service.settings
    index = settings.index.model_copy(update={"rerank_min_logit": -20.0})
    ungated = NewsService(settings.model_copy(update={"index": index}), sample_service.embedder)
    try:
        assert ungated.ask(Query(question)).answered
    finally:
        ungated.close()


def test_json_shape_of_an_answer(sample_service: NewsService) -> None:
    data = sample_service.ask(Query("What projects did Iran and Azerbaijan discuss?", k=3)).to_json()
    assert set(data) == {
        "question",
        "answered",
        "answer",
        "citations",
        "passages",
        "language",
        "source_languages",
    }
    assert data["language"] == "en" and data["source_languages"] == ["en"]
    assert [p["rank"] for p in data["passages"]] == [1, 2, 3]
    assert set(data["citations"][0]) == {"n", "article_id", "title", "url", "source", "published_at", "quote"}
    assert data["citations"][0]["quote"] in data["answer"].replace(" [1]", "")


def test_follow_up_context_steers_retrieval(sample_service: NewsService) -> None:
    answer = sample_service.ask(
        Query("and what about energy?", context="What did Iran and Azerbaijan discuss?")
    )
    assert answer.answered
    assert answer.citations[0].title.startswith("Iran–Azerbaijan")


def test_empty_question_is_refused(sample_service: NewsService) -> None:
    from corpus.errors import InputError

    with pytest.raises(InputError):
        sample_service.ask(Query("   "))


def test_source_filter_keeps_only_that_agency(sample_service: NewsService) -> None:
    question = "What projects did Iran and Azerbaijan discuss?"
    assert sample_service.ask(Query(question, sources=("ilkha",))).answered
    other = sample_service.ask(Query(question, sources=("Reuters",)))
    assert (other.answered, other.passages) == (False, ())


def test_answer_embeds_only_its_shortlist(
    sample_service: NewsService, embedder: Embedder, tmp_path: Path
) -> None:
    question = "What projects did Iran and Azerbaijan discuss?"
    passages = sample_service.search(Query(question))
    counts = []
    for choice, shortlist in (("similarity", 0), ("similarity", 3), ("reader", 3)):
        fresh = CachedEmbedder(
            embedder, EmbeddingCache(tmp_path / f"cache-{choice}-{shortlist}.db", embedder.cache_key)
        )
        # answer_sentences at most the shortlist, which the similarity composer would otherwise widen to it.
        settings = IndexSettings(answer_choice=choice, answer_shortlist=shortlist, answer_sentences=3)
        answer = ExtractiveWriter(fresh, QueryEncoder(embedder), settings).write(question, passages)
        assert answer.answered and "Rasht–Astara railway" in answer.text
        counts.append(fresh.computed)
        fresh.cache.close()
    # Each shortlisted sentence (with its headline), and nothing else; the reader embeds its best 3 at most,
    # stopping at the first relevant one.
    assert counts[1] == 3 < counts[0] and 1 <= counts[2] <= 3


def test_shortlist_takes_at_most_half_from_one_passage() -> None:
    first = Passage(rank=1, chunk_id=1, article_id="a", title="Port news", text="", score=1.0)
    second = Passage(rank=2, chunk_id=2, article_id="b", title="Rail news", text="", score=0.5)
    ranked = [SentenceCandidate(f"a{i}", first, i, 1.0, 0.3) for i in range(5)] + [
        SentenceCandidate("b0", second, 0, 0.5, 0.1)
    ]
    assert [c.text for c in shortlist_candidates(ranked, 4)] == ["a0", "a1", "b0", "a2"]
    # With nothing else on offer the best passage fills the shortlist.
    assert [c.text for c in shortlist_candidates(ranked[:5], 3)] == ["a0", "a1", "a2"]


def test_the_reader_leads_with_the_sentence_that_states_the_answer(sample_service: NewsService) -> None:
    answer = sample_service.ask(Query("Which bridge did Iran and Azerbaijan discuss?"))
    assert answer.answered
    first = answer.text.split(" [1]")[0]
    assert "Aghband–Kalalah bridge" in first
    # One source: every sentence quotes the same article.
    assert [c.n for c in answer.citations] == [1]


WriterFor = Callable[[IndexSettings], ExtractiveWriter]


@pytest.fixture
def writer_for(embedder: Embedder, tmp_path: Path) -> Iterator[WriterFor]:
    """Extractive writers with the given settings over one embedding cache, closed after the test."""
    cache = CachedEmbedder(embedder, EmbeddingCache(tmp_path / "cache.db", embedder.cache_key))
    yield lambda settings: ExtractiveWriter(cache, QueryEncoder(embedder), settings)
    cache.cache.close()


def _dock_strike_stories(
    top_logit: float | None = None, other_logit: float | None = None, other_title: str = "Strike talks in Osk"
) -> list[Passage]:
    """Two articles' passages stating the same, the second naming someone new; optionally read by the reranker."""
    top = Passage(
        rank=1,
        chunk_id=1,
        article_id="top",
        title="Dock strike ends in Osk",
        text="Dock workers in Osk ended their strike on Tuesday after a wage deal was signed.",
        score=1.0,
        relevance=top_logit,
    )
    other = Passage(
        rank=2,
        chunk_id=2,
        article_id="other",
        title=other_title,
        text="Dock workers in Osk ended their strike on Tuesday, union leader Mara Venn said.",
        score=0.9,
        relevance=other_logit,
    )
    return [top, other]


def _lead_article(writer: ExtractiveWriter, passages: list[Passage]) -> str:
    """The one article the answer to the dock strike question cites."""
    answer = writer.write("When did the dock workers in Osk end their strike?", passages)
    assert answer.answered and len(answer.citations) == 1
    return answer.citations[0].article_id


def test_the_first_retrieved_article_leads_when_its_sentence_is_nearly_as_good(writer_for: WriterFor) -> None:
    def lead(margin: float) -> str:
        return _lead_article(
            writer_for(IndexSettings(answer_top_article_margin=margin)), _dock_strike_stories()
        )

    # The second article's sentence scores a little higher (a new name); the first article's is close enough.
    assert lead(0.0) == "other"
    assert lead(1.0) == "top"


def test_the_first_article_does_not_lead_when_the_cross_encoder_reads_the_best_one_closer(
    writer_for: WriterFor,
) -> None:
    writer = writer_for(IndexSettings(answer_top_article_margin=1.0))
    # Read alike, the first article's close sentence leads; read as less on the question, it does not.
    assert _lead_article(writer, _dock_strike_stories(5.0, 5.0)) == "top"
    assert _lead_article(writer, _dock_strike_stories(4.0, 6.0)) == "other"


def test_a_round_up_read_closer_yields_to_a_first_article_read_as_on_the_question(
    writer_for: WriterFor,
) -> None:
    writer = writer_for(IndexSettings(answer_top_article_margin=1.0, rerank_min_logit=0.0))
    roundup = "5 things to know for June 28: Osk, heat, markets"
    # The cross-encoder reads the round-up closer, yet the full story is the one to send the reader to.
    assert _lead_article(writer, _dock_strike_stories(4.0, 6.0, roundup)) == "top"
    # Not when it reads the first article as off the question.
    assert _lead_article(writer, _dock_strike_stories(-1.0, 6.0, roundup)) == "other"


def test_the_first_article_does_not_lead_with_another_amount_than_the_best_sentence(
    writer_for: WriterFor,
) -> None:
    def passage(rank: int, text: str) -> Passage:
        return Passage(
            rank=rank, chunk_id=rank, article_id=f"a{rank}", title="Osk dock deal", text=text, score=1.0
        )

    question = "How much will the dock workers in Osk earn under the wage deal?"
    best = "Under the wage deal, dock workers in Osk will earn $31 an hour, union leader Mara Venn said."
    writer = writer_for(IndexSettings(answer_top_article_margin=5.0))

    def lead(top_text: str) -> str:
        answer = writer.write(question, [passage(1, top_text), passage(2, best)])
        assert answer.answered
        return answer.text.split(" [")[0]

    # Within the margin the first article's sentence would lead; it does when it states the same amount...
    same = "Dock workers in Osk will earn $31 an hour under the wage deal signed on Tuesday."
    assert lead(same) == same.rstrip(".")
    # ...but not when its number is another one: leading with it would change the answer.
    other = "Dock workers in Osk earned $24 an hour before the wage deal signed on Tuesday."
    assert lead(other) == best.rstrip(".")


def test_a_sentence_that_asks_never_leads_the_answer(writer_for: WriterFor) -> None:
    quiz = "Which port city ended its dock strike this week? Dock workers in Osk returned to work on Tuesday."
    passage = Passage(rank=1, chunk_id=1, article_id="quiz", title="Osk dock strike", text=quiz, score=1.0)
    answer = writer_for(IndexSettings()).write("Which port city ended its dock strike this week?", [passage])
    # The article's own copy of the question matches it word for word, yet says nothing: the statement leads.
    assert answer.answered
    assert answer.text.startswith("Dock workers in Osk returned to work on Tuesday [1].")


def test_a_passage_the_cross_encoder_vouches_for_may_lead_below_the_meaning_floor(
    writer_for: WriterFor,
) -> None:
    question = "Which head of a port stepped down this week?"

    def passage(relevance: float | None) -> Passage:
        text = "Osk harbour master Mara Venn resigned on Tuesday after the six-week dock strike."
        return Passage(1, 1, "osk", "Osk dock strike", text, 1.0, relevance=relevance)

    probe = writer_for(IndexSettings())
    candidate = candidate_sentences(question, [passage(None)])
    similarity = score_sentences(probe.queries.encode(question), candidate, probe.embedder)[0].similarity
    # The sentence's meaning match falls short of the floor by more than the near-match rule forgives...
    settings = IndexSettings(min_relevance=similarity + 0.15, rerank_vouch_logit=3.0, rerank_vouch_slack=0.2)

    def answered(relevance: float | None) -> bool:
        return writer_for(settings).write(question, [passage(relevance)]).answered

    # ...so only a cross-encoder logit at the vouching level lets it lead.
    assert answered(4.0)
    assert not answered(2.0)
    assert not answered(None)


def test_a_sentence_held_by_two_overlapping_passages_is_quoted_once(writer_for: WriterFor) -> None:
    def passage(chunk_id: int, text: str) -> Passage:
        return Passage(
            rank=chunk_id, chunk_id=chunk_id, article_id="osk", title="Osk dock strike", text=text, score=1.0
        )

    # The second passage overlaps the first: the same sentence, read there without the heading above it.
    first = passage(
        1, "Osk port reopens\nDock workers in Osk returned to work on Tuesday. The strike lasted six weeks."
    )
    second = passage(2, "Dock workers in Osk returned to work on Tuesday. The union approved the wage deal.")
    answer = writer_for(IndexSettings()).write(
        "When did the dock workers in Osk return to work?", [first, second]
    )
    assert answer.answered
    assert answer.text.count("Dock workers in Osk returned to work on Tuesday") == 1
    assert answer.text.count("[1]") == 3  # the other two sentences fill the answer


def test_an_answer_quotes_up_to_answer_sentences_of_one_article_the_best_first(writer_for: WriterFor) -> None:
    text = (
        "The Osk dock strike began in May over pay. Dock workers in Osk ended their strike on Tuesday. "
        "The union said the wage deal gives dock workers a raise. Osk port will reopen on Thursday. "
        "Shipping lines had diverted cargo from Osk during the strike. The mayor of Osk welcomed the deal."
    )
    story = Passage(rank=1, chunk_id=1, article_id="osk", title="Osk dock strike", text=text, score=1.0)
    brief = "Dock workers in Osk ended a six-week strike, ports officials said."
    other = Passage(rank=2, chunk_id=2, article_id="brief", title="Ports in brief", text=brief, score=0.5)
    question = "When did the dock workers in Osk end their strike?"
    for settings, quoted in ((IndexSettings(), 4), (IndexSettings(answer_sentences=2), 2)):
        answer = writer_for(settings).write(question, [story, other])
        assert answer.answered
        assert answer.text.startswith("Dock workers in Osk ended their strike on Tuesday [1].")
        assert answer.text.count("[1]") == quoted and [c.article_id for c in answer.citations] == ["osk"]


def test_a_dateline_or_heading_line_is_read_with_its_sentence_but_not_quoted(writer_for: WriterFor) -> None:
    text = (
        "Osk CNN —\nDock workers in Osk ended their strike on Tuesday after a wage deal was signed.\n"
        "READ MORE: Ports across the region\nUnion leader Mara Venn said the deal raises pay by 12%."
    )
    # The reader sees each line without a full stop as part of the sentence below it; the quote leaves it out.
    assert passage_sentences(text) == [
        (
            "Osk CNN — Dock workers in Osk ended their strike on Tuesday after a wage deal was signed.",
            "Dock workers in Osk ended their strike on Tuesday after a wage deal was signed.",
        ),
        (
            "READ MORE: Ports across the region Union leader Mara Venn said the deal raises pay by 12%.",
            "Union leader Mara Venn said the deal raises pay by 12%.",
        ),
    ]
    passage = Passage(
        rank=1, chunk_id=1, article_id="osk", title="Dock strike ends in Osk", text=text, score=1.0
    )
    answer = writer_for(IndexSettings()).write(
        "When did the dock workers in Osk end their strike?", [passage]
    )
    assert answer.answered and answer.text.startswith("Dock workers in Osk ended their strike on Tuesday")
    assert "CNN" not in answer.text and "READ MORE" not in answer.text
    # The quote is the article's own sentence, word for word.
    assert answer.citations[0].quote in text


def test_only_leading_lines_without_a_full_stop_are_left_out_of_a_quote() -> None:
    # A line that ends a sentence or introduces a quote stays; so does a last line too short to stand alone.
    for text in (
        "Rates rose by the most in 27 years.\ntime the bank has raised rates since May.",
        "Mara Venn told reporters:\n“The strike is over, and we won.”",
        "Dock strike\nIt ended.",
        "هل انتهى الإضراب؟\nقال الاتحاد إن العمال عادوا إلى الميناء.",
    ):
        assert passage_sentences(text) == [(text.replace("\n", " "),) * 2]


def test_a_bullet_is_read_but_not_quoted() -> None:
    text = "All members must approve.\n►Estonia and Finland want the EU to stop issuing visas to Russians."
    assert passage_sentences(text) == [
        ("All members must approve.", "All members must approve."),
        (
            "►Estonia and Finland want the EU to stop issuing visas to Russians.",
            "Estonia and Finland want the EU to stop issuing visas to Russians.",
        ),
    ]


@pytest.mark.parametrize(
    ("sentence", "quote"),
    [
        (
            "London (CNN) UK health officials urge people to get vaccinated.",
            "UK health officials urge people",
        ),
        ("SAN FRANCISCO (AP) — Wary of head trauma, Borland is retiring.", "Wary of head trauma, Borland"),
        ("Bogota, Colombia (CNN) Gustavo Petro will become Colombia's leader.", "Gustavo Petro will become"),
        (
            "Rome/London (CNN Business) Domino's Italian job was harder than it looked.",
            "Domino's Italian job",
        ),
        ("Alphabet (GOOGL) split its two classes of shares by 20 to 1.", "Alphabet (GOOGL) split its"),
    ],
)
def test_a_wire_dateline_is_left_out_of_a_quote(sentence: str, quote: str) -> None:
    ((read, quoted),) = passage_sentences(sentence)
    assert read == sentence and quoted.startswith(quote)
