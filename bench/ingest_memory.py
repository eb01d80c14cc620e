"""Peak memory of ingesting oversized input (issue 12): each case runs `newsbot ingest` in a process of its own.

Cases: the issue's 50 MB single-line text file and 10 MB JSON body through the real CLI, next to a
two-record baseline (model, store and index alone), and the loaders alone (no model) on the same files
and on a 50 MB JSON Lines file of ordinary articles. Peak RSS is each child's ru_maxrss from os.wait4;
the parent stays small, so what a child inherits through fork is negligible. Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORDS = [
    "the",
    "harbour",
    "ferry",
    "minister",
    "said",
    "talks",
    "railway",
    "bridge",
    "energy",
    "police",
    "city",
    "council",
    "report",
    "market",
]
LOAD_ONLY = (
    "import sys\n"
    "from pathlib import Path\n"
    "from corpus.loaders import load_file\n"
    "from corpus.settings import CorpusSettings\n"
    "r = load_file(Path(sys.argv[1]), CorpusSettings())\n"
    "print(f'{len(r.articles)} articles, {len(r.problems)} problems')\n"
    "print('\\n'.join(str(p) for p in r.problems[:3]), file=sys.stderr)\n"
)


@dataclass(frozen=True)
class Run:
    """One child process: what it printed, its peak RSS and its wall time."""

    out: str
    err: str
    peak_mb: float
    seconds: float
    code: int


def run_child(argv: list[str], env: dict[str, str], repo: Path) -> Run:
    """Run a child in the repo (its code comes first on sys.path) and take its own peak RSS from wait4."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, cwd=repo, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            out.read(), err.read(), usage.ru_maxrss / 1024, time.perf_counter() - started, proc.returncode
        )


def write_words(path: Path, size: int, head: str = "", tail: str = "", seed: int = 0) -> Path:
    """A file of head, then about size bytes of words on one line without a full stop, then tail."""
    rng = random.Random(seed)
    block = " ".join(rng.choice(WORDS) for _ in range(20_000)) + " "
    with path.open("w", encoding="utf-8") as fh:
        fh.write(head)
        while fh.tell() < size:
            fh.write(block)
        fh.write(tail)
    return path


def write_files(work: Path) -> dict[str, Path]:
    """The inputs: the issue's two, a baseline and a big JSON Lines file of ordinary articles."""
    files = {
        "txt": write_words(work / "single-line-50MB.txt", 50_000_000, head="", tail="\n"),
        "json": write_words(
            work / "record-10MB.json", 10_000_000, head='{"title": "Huge", "body": "', tail='"}'
        ),
        "baseline": work / "two-records.jsonl",
        "jsonl": work / "articles-50MB.jsonl",
    }
    files["baseline"].write_text(
        json.dumps({"title": "Varna harbour reopens", "body": "The harbour of Varna reopened on Monday."})
        + "\n"
        + json.dumps(
            {"title": "Danube bridge closed", "body": "The Danube bridge at Ruse closed for repairs."}
        )
        + "\n"
    )
    rng = random.Random(1)
    with files["jsonl"].open("w", encoding="utf-8") as fh:
        n = 0
        while fh.tell() < 50_000_000:
            body = ". ".join(" ".join(rng.choices(WORDS, k=15)).capitalize() for _ in range(40)) + "."
            fh.write(json.dumps({"title": f"Story {n}", "body": body}) + "\n")
            n += 1
    return files


def mb(path: Path) -> str:
    """A file's size in MB, for labels."""
    return f"{path.stat().st_size / 1_000_000:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", type=Path, help="Folder for the generated files and data (default: a temp dir)."
    )
    parser.add_argument(
        "--repo", type=Path, default=REPO, help="The checkout whose code runs (compare branches)."
    )
    parser.add_argument(
        "--near-limit",
        action="store_true",
        help="Also ingest one record just under corpus.max_record_bytes (4.9 MB: minutes of embedding).",
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=REPO / "data" / "models",
        help="Exported ONNX graphs (kept between runs).",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        files = write_files(work)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "NEWSBOT_INDEX__MODELS_DIR": str(args.models_dir),
            "NEWSBOT_CONFIG": str(args.repo / "settings.toml"),
        }
        cli = [sys.executable, "-m", "bot.cli", "ingest", "--quiet"]
        # The first load may export the ONNX graph (torch, about 1 GB): not what is measured here.
        run_child(
            [*cli, str(files["baseline"])], {**env, "NEWSBOT_DATA_DIR": str(work / "warm-up")}, args.repo
        )
        cases = [
            ("newsbot ingest", "two small records (baseline)", files["baseline"], cli),
            ("newsbot ingest", f"single-line .txt, {mb(files['txt'])}", files["txt"], cli),
            ("newsbot ingest", f"one JSON record, {mb(files['json'])}", files["json"], cli),
            ("loader only", f"single-line .txt, {mb(files['txt'])}", files["txt"], None),
            ("loader only", f"one JSON record, {mb(files['json'])}", files["json"], None),
            ("loader only", f"JSON Lines of ordinary articles, {mb(files['jsonl'])}", files["jsonl"], None),
        ]
        if args.near_limit:
            near = write_words(
                work / "record-4.9MB.json", 4_900_000, head='{"title": "Near", "body": "', tail='"}'
            )
            cases.append(("newsbot ingest", f"one JSON record, {mb(near)}", near, cli))
        print(f"{'how':<15} {'input':<45} {'peak RSS':>9} {'seconds':>8}  outcome")
        for i, (how, label, path, argv) in enumerate(cases):
            full = [*argv, str(path)] if argv else [sys.executable, "-c", LOAD_ONLY, str(path)]
            run = run_child(full, {**env, "NEWSBOT_DATA_DIR": str(work / f"data-{i}")}, args.repo)
            said = [
                line.removeprefix("warning: ") for line in (run.out + run.err).splitlines() if line.strip()
            ]
            outcome = (
                " | ".join(s[:110] for s in said[:3]) if run.code == 0 else f"exit {run.code}: {said[-1:]}"
            )
            print(f"{how:<15} {label:<45} {run.peak_mb:>6.0f} MB {run.seconds:>8.1f}  {outcome}")


if __name__ == "__main__":
    main()
