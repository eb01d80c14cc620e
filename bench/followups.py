"""Two-turn conversations on RealTime QA: is a vague follow-up answered from the story it follows?

Each case is a tuning-week quiz question, then a hand-written follow-up whose answer is in the same gold
article but that names little of the story itself ("How many people died?"). The follow-up is asked as
the bot asks it (with the earlier question and the gist of its answer as context, `followup_context`), with
the earlier question only, and without any context, as of the quiz day. Reported: the gold article first among the follow-up's passages
(Hit@1) and the follow-up's answer stating the expected fact; the earlier question alone as context (what the
bot used before) is shown too.

    python -m bench.followups --work data/bench-rtqa
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bench.answer_match import states_answer
from bench.quality import RESULTS, WORK, open_ingested
from bench.rtqa_data import DATA, load_questions
from bench.rtqa_eval import RANK_DEPTH
from bench.rtqa_metrics import gold_flags, ranked_articles
from index.query import Query, followup_context

# (quiz question id, follow-up, what its answer must state)
CASES: tuple[tuple[str, str, str], ...] = (
    ("20220624_7", "And which teams did he play for?", "Buccaneers"),
    ("20220701_6", "Who scored the deciding goal?", "Lehkonen"),
    ("20220708_7", "Since when was it exposed?", "April 2021"),
    ("20220722_7", "What did one share cost after that?", "$110"),
    ("20220729_6", "How many people died?", "five"),
    ("20220805_5", "Who announced her death?", "Kyle Johnson"),
    ("20220812_5", "Where is the boutique with the queues?", "Dijon"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Ask every case with and without the earlier turn; print and write the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=WORK)
    args = ap.parse_args(argv)
    data = args.data.resolve()
    service = open_ingested(data, args.work)
    if service is None:
        return 0
    questions = {q.qid: q for q in load_questions(data)}
    totals = {"with the earlier turn": [0, 0], "with the earlier question only": [0, 0], "alone": [0, 0]}
    lines = [
        "| first question | follow-up | "
        + " | ".join(f"{label}: gold first / states it" for label in totals)
        + " |",
        "|---|---|---|---|---|",
    ]
    try:
        for qid, followup, expected in CASES:
            q = questions[qid]
            first = service.ask(Query(q.text, as_of=q.asked_at))
            cells = []
            contexts = (followup_context(q.text, first), q.text, None)
            for label, context in zip(totals, contexts, strict=True):
                query = Query(followup, as_of=q.asked_at, context=context)
                passages = service.search(Query(followup, k=RANK_DEPTH, as_of=q.asked_at, context=context))
                hit = any(gold_flags(ranked_articles(passages), q.gold_ids, q.gold_urls)[:1])
                stated = states_answer(service.ask(query).text, expected)
                totals[label][0] += hit
                totals[label][1] += stated
                cells.append(f"{'yes' if hit else 'no'} / {'yes' if stated else 'no'}")
            lines.append(f"| {q.text[:60]} | {followup} | " + " | ".join(cells) + " |")
    finally:
        service.close()
    n = len(CASES)
    lines.append(
        "| **total** | | " + " | ".join(f"{hit}/{n} / {stated}/{n}" for hit, stated in totals.values()) + " |"
    )
    table = "### Two-turn follow-ups (RealTime QA tuning weeks)\n\n" + "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "followups.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
