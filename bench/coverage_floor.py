"""Where to put `rerank_min_logit`: the best cross-encoder logit of the passages read, covered and uncovered questions.

Covered: the RealTime QA tuning-week questions with a gold article in the corpus; beside them, the tuning-week
questions whose quiz names none (the corpus holds their search results; coverage unknown). Mostly uncovered: RGB's
100 news factoids of 2018-2023 (`../shared/eval-data/rgb/en_fact.json`) asked of the same 2022 corpus. For each
question the default pipeline runs once with no floor; the table then shows, per floor, how many questions would
still be answered and how many of those answers state the expected answer. Reads an ingested bench work dir
(`python -m bench.quality` makes one); writes nothing there.

    python -m bench.coverage_floor --work data/bench-rtqa
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from bench.answer_match import states_answer
from bench.quality import RESULTS, WORK, open_ingested, with_index
from bench.rtqa_data import DATA, LAST_TUNING_WEEK, load_questions
from index.query import Query
from index.service import NewsService

RGB = DATA.parent / "rgb" / "en_fact.json"
# None: no floor at all (every answer the writer gave).
FLOORS: tuple[float | None, ...] = (None, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0)


class Asked(NamedTuple):
    """One question asked with no floor: its best read passage's logit, and whether it was answered and right."""

    logit: float | None
    answered: bool
    right: bool


def ask_all(service: NewsService, questions: Sequence[tuple[str, datetime | None, list[str]]]) -> list[Asked]:
    """Each question asked once, with the floor off."""
    out = []
    for text, as_of, golds in questions:
        answer = service.ask(Query(text, as_of=as_of))
        read = [p.relevance for p in answer.passages if p.relevance is not None]
        right = answer.answered and any(states_answer(answer.text, g) for g in golds)
        out.append(Asked(max(read) if read else None, answer.answered, right))
    return out


def rgb_questions(path: Path) -> list[tuple[str, datetime | None, list[str]]]:
    """RGB's questions, asked as of now, with every accepted form of the answer."""
    out: list[tuple[str, datetime | None, list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            answers = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
            golds = [a if isinstance(a, str) else a[0] for a in answers]
            out.append((row["query"], None, golds))
    return out


def kept(asked: Sequence[Asked], floor: float | None) -> tuple[int, int]:
    """(answered, right) had the floor been `floor`."""
    passing = [a for a in asked if a.answered and (floor is None or a.logit is None or a.logit >= floor)]
    return len(passing), sum(a.right for a in passing)


def main(argv: Sequence[str] | None = None) -> int:
    """Ask the three sets once each, with no floor, and print the floor table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=WORK)
    args = ap.parse_args(argv)
    if not RGB.is_file():
        print(f"RGB data not found at {RGB}: skipping the coverage-floor bench.")
        return 0
    data = DATA.resolve()
    service = open_ingested(data, args.work)
    if service is None:
        return 0
    tuning = [q for q in load_questions(data, gold_only=False) if q.week <= LAST_TUNING_WEEK]
    with_gold = [(q.text, q.asked_at, [q.answer]) for q in tuning if q.gold_urls]
    # The quiz names no gold article for these: the corpus holds their search results, coverage unknown.
    without_gold = [(q.text, q.asked_at, [q.answer]) for q in tuning if not q.gold_urls]
    unfloored = NewsService(with_index(service.settings, {"rerank_min_logit": -20.0}), service.embedder)
    try:
        covered, unknown = ask_all(unfloored, with_gold), ask_all(unfloored, without_gold)
        uncovered = ask_all(unfloored, rgb_questions(RGB))
    finally:
        unfloored.close()
        service.close()
    lines = [
        f"### Best read passage's cross-encoder floor: {len(covered)} tuning-week questions with a gold article,"
        f" {len(unknown)} without, {len(uncovered)} RGB",
        "",
        "| rerank_min_logit | tuning answered | tuning right | without gold: answered | right"
        " | RGB answered | RGB right |",
        "|---|---|---|---|---|---|---|",
    ]
    for floor in FLOORS:
        (ta, tr), (ua, ur), (ra, rr) = kept(covered, floor), kept(unknown, floor), kept(uncovered, floor)
        lines.append(
            f"| {'none' if floor is None else f'{floor:g}'} | {ta} | {tr} | {ua} | {ur} | {ra} | {rr} |"
        )
    table = "\n".join([*lines, ""])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "coverage_floor.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
