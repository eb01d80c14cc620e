"""Manual check of the llm answer writer against a real OpenAI-compatible server on 127.0.0.1.

Ingests the sample corpus into a scratch data dir, then asks each question through NewsService with
`[answer] writer = "llm"` and prints, per question: seconds, the model's raw reply, how many of its
sentences the check kept, the answer and its citations (or the fallback's warning in the log).

    python -m bench.llm_check --base-url http://127.0.0.1:8091/v1 [--data /tmp/llm-check] [QUESTION ...]

Serve a GGUF model first, e.g. with `python bench/llm_server.py MODEL.gguf` in another shell.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from corpus.settings import Settings
from index.llm_writer import LlmWriter, check_reply, prompt_messages
from index.query import Query
from index.service import NewsService

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "What projects did Iran and Azerbaijan discuss?",
    "Which city did Russia say it took full control of?",
    "Why is the Bulgarian government resigning?",
    "Who won the 2018 World Cup?",
]


def check(base_url: str, data: Path, questions: list[str], timeout: float) -> None:
    """Ask each question through the llm writer and print what the model said and what survived."""
    settings = Settings(
        data_dir=data,
        corpus={"paths": [REPO / "samples"]},
        answer={"writer": "llm", "base_url": base_url, "timeout_seconds": timeout},
    )
    service = NewsService.open(settings)
    try:
        if service.stats().articles == 0:
            service.ingest_paths([REPO / "samples"])
        writer = service.writer
        assert isinstance(writer, LlmWriter)
        for question in questions:
            passages = service.search(Query(question))
            started = time.perf_counter()
            reply = writer.client.complete(prompt_messages(question, passages))
            seconds = time.perf_counter() - started
            checked = check_reply(question, reply, passages, writer.scorer)
            print(
                f"\n## {question}\nmodel: {seconds:.1f}s, kept {checked.kept} of {checked.drafted} sentence(s)"
            )
            print(f"raw:    {reply!r}")
            answer = service.ask(Query(question))  # the full path, fallback included (a cached prompt)
            print(f"answer: {answer.text}")
            for c in answer.citations:
                print(f"  [{c.n}] {c.title} | quote: {c.quote}")
    finally:
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("questions", nargs="*", default=QUESTIONS)
    parser.add_argument("--base-url", default="http://127.0.0.1:8091/v1")
    parser.add_argument("--data", type=Path, default=Path("/tmp/newsbot-llm-check"))
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    check(args.base_url, args.data, args.questions, args.timeout)


if __name__ == "__main__":
    main()
