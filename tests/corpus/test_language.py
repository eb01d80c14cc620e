"""Language detection (corpus/language.py) with the real bundled fastText model, and its use at ingest."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from corpus.ingest import load_paths, store_articles
from corpus.language import LanguageDetector
from corpus.models import Article
from corpus.settings import CorpusSettings
from corpus.store import ArticleStore

SAMPLES = {
    "en": "Iran and Azerbaijan discussed the Rasht–Astara railway and a new bridge over the Aras river.",
    "tr": "İran ile Azerbaycan, Reşt–Astara demiryolu projesini ve Aras nehri üzerindeki köprüyü görüştü.",
    "ar": "ناقشت إيران وأذربيجان مشروع سكة حديد رشت أستارا وجسرا جديدا فوق نهر آراس.",
    "fa": "ایران و آذربایجان درباره پروژه راه آهن رشت آستارا و پل جدید روی رود ارس گفتگو کردند.",
    "ku": "Îran û Azerbaycanê li ser projeya rêhesinê ya Reşt-Astarayê û pireke nû axivîn.",
    "ckb": "ئێران و ئازەربایجان باسی پرۆژەی هێڵی ئاسنی ڕەشت و ئاستارا و پردێکی نوێیان کرد.",
}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_tells_the_agency_languages_apart(detector: LanguageDetector, language: str) -> None:
    assert detector.detect(SAMPLES[language]) == language


def test_unsure_or_letterless_text_has_no_language(detector: LanguageDetector) -> None:
    assert detector.detect("") is None
    assert detector.detect("12 345 — 2025/12/05") is None
    assert detector.detect("hi") is None  # one short word: below the confidence floor


def test_the_model_comes_from_the_package_without_any_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("language detection tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert LanguageDetector().detect(SAMPLES["tr"]) == "tr"


def test_declared_language_wins_and_undeclared_is_detected(detector: LanguageDetector) -> None:
    declared = Article(id="a", title="Köprü", body=SAMPLES["tr"], language="en")
    undeclared = Article(id="b", title="Köprü", body=SAMPLES["tr"])
    unsure = Article(id="c", title="42", body="2025")
    out = list(detector.resolve_all([declared, undeclared, unsure], default="ar"))
    assert [a.language for a in out] == ["en", "tr", "ar"]
    assert out[1].hash == undeclared.hash  # the language is not part of the content


def test_ingest_stores_declared_and_detected_languages(tmp_path: Path, detector: LanguageDetector) -> None:
    lines = [
        {"title": "Demiryolu", "body": SAMPLES["tr"]},
        {"title": "Railway", "body": SAMPLES["en"]},
        {"title": "سكة حديد", "body": SAMPLES["ar"]},
        {"title": "پرۆژە", "body": SAMPLES["ckb"]},
        {"title": "Declared", "body": SAMPLES["tr"], "language": "en"},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    settings = CorpusSettings(default_language="en")
    loaded = load_paths([path], settings)
    assert [a.language for a in loaded.articles] == [None, None, None, None, "en"]
    store = ArticleStore(tmp_path / "articles.db")
    try:
        store_articles(store, loaded.articles, settings, detector)
        by_title = {a.title: a.language for a in store.latest(10)}
        assert by_title == {
            "Demiryolu": "tr",
            "Railway": "en",
            "سكة حديد": "ar",
            "پرۆژە": "ckb",
            "Declared": "en",
        }
        assert store.languages() == [("en", 2), ("ar", 1), ("ckb", 1), ("tr", 1)]
    finally:
        store.close()


def test_an_unchanged_article_gets_its_newly_declared_language(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "articles.db")
    try:
        store.upsert([Article(id="a", title="Demiryolu", body=SAMPLES["tr"], language="en")])
        report = store.upsert([Article(id="a", title="Demiryolu", body=SAMPLES["tr"], language="tr")])
        assert report.unchanged == ["a"]
        assert store.languages() == [("tr", 1)]
        store.upsert([Article(id="b", title="Unresolved", body="Stored without resolution.")])
        assert ("und", 1) in store.languages()
    finally:
        store.close()
