"""The answer reader: the sentence that holds the kind of thing asked for comes first."""

from __future__ import annotations

import numpy as np

from index.reader import FEATURES, WEIGHTS, amounts_given, answer_scores, lowercase_words, sentence_features


def _best(question: str, sentences: list[str]) -> str:
    features = [sentence_features(question, s, 0.5, 1, 0) for s in sentences]
    return sentences[int(np.argmax(answer_scores(question, features)))]


def test_a_how_many_question_prefers_the_sentence_with_a_number() -> None:
    question = "How many people died in the earthquake?"
    sentences = [
        "The earthquake struck the northern region early on Wednesday morning.",
        "At least 5 people died and 130 were injured after the earthquake.",
    ]
    assert _best(question, sentences) == sentences[1]


def test_a_date_is_no_amount_but_an_amount_in_words_is() -> None:
    question = "For how long did Biden ask Congress to suspend the gas tax?"
    assert amounts_given(question, "Biden spoke at the White House on June 22, 2022.") == set()
    assert amounts_given(question, "The strike starts on 5 September, as agreed in 2016.") == set()
    assert amounts_given(question, "He asked to suspend it for the next three months.") == {"three"}
    assert amounts_given(question, "The tax is 18.4 cents a gallon.") == {"18.4"}
    # A date's year is not an amount, but a count is.
    assert amounts_given("How many people fled?", "About 2,016 people fled in 2016.") == {"2,016"}


def test_a_measure_named_after_the_wh_word_asks_for_an_amount() -> None:
    sentence = "Prices have tumbled since hitting a record average high of $5.02 on June 14."
    for question in (
        "What was the record high average price for a gallon of gas?",
        "What is the hottest UK temperature on record?",
        "Which new total did the jackpot reach?",
    ):
        assert amounts_given(question, sentence) == {"5.02"}, question
    # A measure that is not what the wh-word asks for ("which retailer ... prices") asks for a name, and so
    # does a figure: a public figure is a person.
    for question in (
        "Which retailer lowered its gas prices to $3.99?",
        "Which public figure called for a cap on energy prices?",
        "What is the name of the rate cut the bank announced?",
    ):
        assert amounts_given(question, sentence) == set(), question


def test_a_year_question_wants_a_year_not_another_number() -> None:
    question = "In which year did Ukraine split from the Soviet Union?"
    assert amounts_given(question, "Ukraine declared independence on Aug. 24, 1991.") == {"1991"}
    assert amounts_given(question, "Wednesday marked the 31st anniversary of the vote.") == set()
    sentences = [
        "Wednesday marked the 31st anniversary of when Ukraine voted to split from the Soviet Union.",
        "Ukraine split from the Soviet Union on Aug. 24, 1991, after the failed coup.",
    ]
    assert _best(question, sentences) == sentences[1]


def test_a_who_question_prefers_a_sentence_naming_someone_new() -> None:
    question = "Who announced his retirement from the NFL on Tuesday?"
    sentences = [
        "The retirement was announced on social media on Tuesday.",
        "Tight end Rob Gronkowski announced his retirement on Tuesday.",
    ]
    assert _best(question, sentences) == sentences[1]


def test_names_already_in_the_question_do_not_count() -> None:
    features = sentence_features("Who met Araghchi in Baku?", "In Baku, Araghchi spoke.", 0.5, 1, 0)
    named = dict(zip(FEATURES, features, strict=True))
    assert named["new names"] == 0 and named["name asked, new name given"] == 0
    other = sentence_features("Who met Araghchi in Baku?", "In Baku, Araghchi met Bayramov.", 0.5, 1, 0)
    assert dict(zip(FEATURES, other, strict=True))["name asked, new name given"] == 1


def test_earlier_passages_and_sentences_weigh_more() -> None:
    q, s = "What did the council approve?", "The council approved the harbour plan."
    first, later = sentence_features(q, s, 0.5, 1, 0), sentence_features(q, s, 0.5, 4, 3)
    assert answer_scores(q, [first])[0] > answer_scores(q, [later])[0]
    assert len(WEIGHTS) == len(FEATURES)
    assert answer_scores(q, []).shape == (0,)


def test_a_sentence_opening_with_a_name_gives_that_name() -> None:
    question = "Which retailer is slashing prices on clothing?"
    sentences = [
        "Walmart is slashing prices on clothing and other products.",
        "Officials said prices on clothing are rising, and officials expect more.",
        "The company is slashing prices on clothing.",
    ]
    common = lowercase_words(sentences)

    def names(sentence: str) -> float:
        features = sentence_features(question, sentence, 0.5, 1, 0, common)
        return dict(zip(FEATURES, features, strict=True))["name asked, new name given"]

    assert names(sentences[0]) == 1
    # A capital that only opens the sentence: a word written in lower case elsewhere, or a stopword.
    assert names(sentences[1]) == 0 and names(sentences[2]) == 0


def test_a_passage_the_cross_encoder_reads_as_on_the_question_lifts_its_sentences() -> None:
    q, s = "What did the council approve?", "The council approved the harbour plan."
    on, off = (
        sentence_features(q, s, 0.5, 1, 0, relevance=6.0),
        sentence_features(q, s, 0.5, 1, 0, relevance=-6.0),
    )
    assert answer_scores(q, [on])[0] > answer_scores(q, [off])[0]
    # Without a reranker there is no logit: the feature is 0 for every candidate and changes no order.
    unread = dict(zip(FEATURES, sentence_features(q, s, 0.5, 1, 0), strict=True))
    assert unread["passage relevance"] == 0
