"""Digest summary quality: ROUGE of the one-sentence summaries on BBC News Summary, against the lead sentence."""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from corpus.models import Article
from index.digest import (
    DEFAULT_SENTENCE_WEIGHTS,
    SentenceWeights,
    body_sentences,
    candidate_sentences,
    pick_sentence,
    summary_sentence,
)
from index.embeddings import CachedEmbedder, Embedder, EmbeddingCache

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "eval-data" / "bbc-news-summary" / "bbc_news_summary.jsonl"
RESULTS = REPO / "bench" / "results"
MODEL = "bundled:all-MiniLM-L6-v2"
METRICS = ("rouge1", "rouge2", "rougeL")
# Summary files glue sentences together ("...$10.9bn.For the full-year"); SOURCE.md says to re-insert a space.
_GLUED = re.compile(r"([.!?][\"'”’]?)(?=[A-Z\"'“‘])")


@dataclass(frozen=True)
class Item:
    """One evaluation article: candidate sentences, the lead sentence and the reference summary."""

    article: Article
    candidates: list[str]
    lead: str
    reference: str
    reference_raw: str


@dataclass(frozen=True)
class Scored:
    """Per-article ROUGE F1 (rows: sentences, columns: METRICS) and whether each candidate is in the reference."""

    candidates: np.ndarray
    lead: np.ndarray
    lead_in_reference: bool
    in_reference: np.ndarray


def load_items(path: Path, limit: int | None) -> list[Item]:
    """Read the JSONL: the headline is the file's first line, the body is the rest."""
    items: list[Item] = []
    with path.open(encoding="utf-8") as fh:
        for line in itertools.islice(fh, limit):
            row = json.loads(line)
            body = row["article"].split("\n", 1)[1] if "\n" in row["article"] else row["article"]
            article = Article(id=row["id"], title=row["title"].strip(), body=body.strip())
            sentences = body_sentences(article.body)
            if not sentences:
                continue
            items.append(
                Item(
                    article=article,
                    candidates=candidate_sentences(article),
                    lead=sentences[0],
                    reference=_GLUED.sub(r"\1 ", row["summary"]).strip(),
                    reference_raw=" ".join(row["summary"].split()),
                )
            )
    return items


def score_items(items: Sequence[Item]) -> list[Scored]:
    """ROUGE F1 of every candidate sentence and of the lead, tokenising each reference only once."""
    from rouge_score import rouge_scorer, tokenizers

    # RougeScorer.score re-tokenises and stems the long reference for each of the ~37k candidate sentences,
    # which takes minutes; the library's own n-gram and LCS scorers on pre-tokenised text give the same numbers.
    tokenizer = tokenizers.DefaultTokenizer(use_stemmer=True)

    def f1(ref: list[str], ref_grams: dict[int, object], text: str) -> np.ndarray:
        tokens = tokenizer.tokenize(text)
        out = [
            rouge_scorer._score_ngrams(ref_grams[n], rouge_scorer._create_ngrams(tokens, n)).fmeasure
            for n in (1, 2)
        ]
        return np.array([*out, rouge_scorer._score_lcs(ref, tokens).fmeasure], dtype=np.float64)

    scored: list[Scored] = []
    for item in tqdm(items, desc="rouge", unit="article"):
        ref = tokenizer.tokenize(item.reference)
        grams: dict[int, object] = {n: rouge_scorer._create_ngrams(ref, n) for n in (1, 2)}
        scored.append(
            Scored(
                candidates=np.stack([f1(ref, grams, s) for s in item.candidates]),
                lead=f1(ref, grams, item.lead),
                lead_in_reference=_in(item.lead, item.reference_raw),
                in_reference=np.array([_in(s, item.reference_raw) for s in item.candidates]),
            )
        )
    # The shortcut above must agree with the library's public scorer.
    check = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    for item, sc in zip(items[:5], scored[:5], strict=False):
        expected = check.score(item.reference, item.candidates[0])
        assert np.allclose(sc.candidates[0], [expected[m].fmeasure for m in METRICS]), item.article.id
    return scored


def _in(sentence: str, reference_raw: str) -> bool:
    """Whether a sentence is (part of) one of the reference's extracted sentences."""
    return " ".join(sentence.split()) in reference_raw


def embed_items(items: Sequence[Item], use_cache: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Unit vectors of each article's candidate sentences and of its headline."""
    texts = list(dict.fromkeys(t for item in items for t in [*item.candidates, item.article.title]))
    embedder = Embedder(MODEL)
    bar = tqdm(total=len(texts), desc="embedding", unit="sentence")

    def progress(_stage: str, done: int, _total: int) -> None:
        bar.update(done - bar.n)

    if use_cache:
        RESULTS.mkdir(parents=True, exist_ok=True)
        cache = EmbeddingCache(RESULTS / "digest_quality_embeddings.sqlite", MODEL)
        vectors = CachedEmbedder(embedder, cache).embed(texts, progress)
        cache.close()
    else:
        vectors = embedder.encode(texts, progress)
    bar.update(len(texts) - bar.n)
    bar.close()
    row = {t: i for i, t in enumerate(texts)}
    out = [(vectors[[row[s] for s in item.candidates]], vectors[row[item.article.title]]) for item in items]
    # The benchmark scores vectors directly; make sure that is exactly what summary_sentence() picks.
    for item, (sent_vecs, title_vec) in zip(items[:10], out[:10], strict=False):
        chosen = item.candidates[pick_sentence(item.candidates, sent_vecs, title_vec)]
        if chosen != summary_sentence(item.article, embedder):
            print(
                f"warning: {item.article.id}: benchmark pick differs from summary_sentence()", file=sys.stderr
            )
    return out


def choices(
    items: Sequence[Item], vectors: Sequence[tuple[np.ndarray, np.ndarray]], w: SentenceWeights
) -> list[int]:
    """The index of the sentence the digest picks in each article."""
    return [pick_sentence(i.candidates, sv, tv, w) for i, (sv, tv) in zip(items, vectors, strict=True)]


@dataclass(frozen=True)
class Row:
    """One method's means over some articles."""

    rouge: np.ndarray
    in_reference: float
    words: float


def _row(rouge: Sequence[np.ndarray], hits: Sequence[bool], sentences: Sequence[str]) -> Row:
    """Average one method's per-article results."""
    return Row(
        rouge=np.mean(np.stack(rouge), axis=0),
        in_reference=float(np.mean(hits)),
        words=float(np.mean([len(s.split()) for s in sentences])),
    )


def _best(rows: np.ndarray) -> int:
    """The sentence with the highest mean ROUGE F1."""
    return int(np.argmax(rows.mean(axis=1)))


def summarise(items: Sequence[Item], scored: Sequence[Scored], picks: Sequence[int]) -> dict[str, Row]:
    """Lead, digest and oracle results over some articles."""
    pairs = list(zip(items, scored, picks, strict=True))
    oracle: list[tuple[np.ndarray, bool, str]] = []
    for item, sc, _ in pairs:
        b = _best(sc.candidates)
        # The oracle may also take the lead when it is too short to be a digest candidate.
        oracle.append(
            max(
                (sc.candidates[b], bool(sc.in_reference[b]), item.candidates[b]),
                (sc.lead, sc.lead_in_reference, item.lead),
                key=lambda x: float(x[0].mean()),
            )
        )
    return {
        "lead sentence (baseline)": _row(
            [sc.lead for _, sc, _ in pairs],
            [sc.lead_in_reference for _, sc, _ in pairs],
            [i.lead for i, _, _ in pairs],
        ),
        "digest `summary_sentence()`": _row(
            [sc.candidates[p] for _, sc, p in pairs],
            [bool(sc.in_reference[p]) for _, sc, p in pairs],
            [i.candidates[p] for i, _, p in pairs],
        ),
        "oracle: best single sentence": _row(
            [o[0] for o in oracle], [o[1] for o in oracle], [o[2] for o in oracle]
        ),
    }


def tune(
    items: Sequence[Item], vectors: Sequence[tuple[np.ndarray, np.ndarray]], scored: Sequence[Scored]
) -> None:
    """Grid-search the sentence weights on the given (tuning) articles and print the best few.

    F1 against a long multi-sentence reference grows with the sentence's length, so maximising it would just pick
    long sentences; the objective is instead the length-insensitive rate of picking a reference sentence, with
    mean ROUGE F1 breaking near-ties (within half a point).
    """
    results: list[tuple[float, float, float, SentenceWeights]] = []
    grid = itertools.product(
        (0.0, 0.25, 0.5),
        (0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
        (1.0, 2.0, 4.0),
        (0.0, 0.1, 0.2, 0.3),
        (25.0, 35.0),
    )
    for title, position, half_life, length, full in tqdm(list(grid), desc="tuning"):
        w = SentenceWeights(
            title=title,
            position=position,
            position_half_life=half_life,
            length=length,
            full_length_words=full,
        )
        row = summarise(items, scored, choices(items, vectors, w))["digest `summary_sentence()`"]
        results.append((row.in_reference, float(row.rouge.mean()), row.words, w))
    top = max(r[0] for r in results)
    results.sort(key=lambda r: (r[0] < top - 0.005, -r[1]))
    lead = summarise(items, scored, [0] * len(items))["lead sentence (baseline)"]
    print(
        f"lead baseline on the tuning set: in reference {lead.in_reference:.3f},"
        f" mean ROUGE F1 {lead.rouge.mean():.4f}, {lead.words:.1f} words"
    )
    for hit, f1, words, w in results[:10]:
        print(f"in reference {hit:.3f}  mean F1 {f1:.4f}  {words:.1f} words  {w}")


def table(title: str, rows: dict[str, Row]) -> str:
    """One markdown table."""
    lines = [
        f"#### {title}",
        "",
        "| method | ROUGE-1 F1 | ROUGE-2 F1 | ROUGE-L F1 | sentence in reference | words |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in rows.items():
        r1, r2, rl = row.rouge
        lines.append(
            f"| {name} | {r1:.4f} | {r2:.4f} | {rl:.4f} | {row.in_reference:.1%} | {row.words:.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print/write the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--tune", action="store_true", help="grid-search sentence weights on the first half")
    parser.add_argument("--no-cache", action="store_true", help="do not cache embeddings in bench/results/")
    args = parser.parse_args(argv)
    if not DATA.is_file():
        print(f"skipped: BBC News Summary not found at {DATA.resolve()}")
        return 0
    started = time.perf_counter()
    items = load_items(DATA, args.limit)
    vectors = embed_items(items, use_cache=not args.no_cache)
    scored = score_items(items)
    half = (len(items) + 1) // 2
    if args.tune:
        tune(items[:half], vectors[:half], scored[:half])
        return 0
    picks = choices(items, vectors, DEFAULT_SENTENCE_WEIGHTS)
    tuned_on = list(dict.fromkeys(item.article.id.split("/")[0] for item in items[:half]))
    same_as_lead = np.mean([item.candidates[p] == item.lead for item, p in zip(items, picks, strict=True)])
    report = [
        "### Digest summary sentence vs lead sentence (BBC News Summary)",
        "",
        f"{len(items)} articles; one sentence per article each way, scored with rouge-score (stemming) against the"
        " multi-sentence extractive reference summary. 'Sentence in reference' = the chosen sentence is one of"
        " the reference's extracted sentences. F1 against a long reference rises with the sentence's length, so"
        " the length-insensitive 'sentence in reference' rate and the mean length ('words') are shown too."
        f" Weights were tuned on the first half only (articles 1-{half}: {', '.join(tuned_on)}).",
        f"The digest picked the lead sentence in {same_as_lead:.1%} of articles. Model {MODEL}, weights"
        f" {DEFAULT_SENTENCE_WEIGHTS}.",
        "",
        table(f"All {len(items)} articles", summarise(items, scored, picks)),
        "",
        table(f"Tuning half (first {half})", summarise(items[:half], scored[:half], picks[:half])),
        "",
        table(
            f"Held-out half (last {len(items) - half})", summarise(items[half:], scored[half:], picks[half:])
        )
        if len(items) > half
        else "",
        "",
        f"Runtime {time.perf_counter() - started:.0f} s.",
    ]
    text = "\n".join(report).strip() + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "digest_quality.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
