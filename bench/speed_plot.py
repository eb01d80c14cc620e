"""The speed bench's latency rows (one CSV, a `stack` column per row) and their plot against passages.

Every stack's bench appends its own rows to bench/results/speed.csv (a row replaces the one of the same
stack, size and pipeline), and the plot draws every stack it finds: SQLite + FAISS now, PostgreSQL + Milvus
when its bench (bench/server_stack.py) writes rows with stack "postgres+milvus".
Run: .venv/bin/python -m bench.speed_plot [--csv bench/results/speed.csv] [--out bench/results/speed.png]
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

RESULTS = Path("bench/results")


@dataclass(frozen=True)
class LatencyRow:
    """One stack at one size with one ask pipeline: latency, memory, recall."""

    stack: str
    passages: int
    pipeline: str
    layout: str
    cold_p50_ms: float
    cold_p95_ms: float
    warm_p50_ms: float
    warm_p95_ms: float
    rss_mb: float
    index_rss_mb: float
    load_s: float
    recall_at_10: float
    load_average: float

    @property
    def key(self) -> tuple[str, int, str]:
        """What a newer row of the same measurement replaces."""
        return (self.stack, self.passages, self.pipeline)


def read_rows(path: Path) -> list[LatencyRow]:
    """The rows of a CSV written by write_rows (none when it does not exist)."""
    if not path.exists():
        return []
    types = {f.name: f.type for f in fields(LatencyRow)}
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            values: dict[str, object] = {}
            for name, kind in types.items():
                raw = rec.get(name, "")
                values[name] = int(raw) if kind == "int" else float(raw or "nan") if kind == "float" else raw
            out.append(LatencyRow(**values))  # type: ignore[arg-type]
    return out


def write_rows(path: Path, rows: Sequence[LatencyRow]) -> None:
    """Merge rows into the CSV: same stack, size and pipeline replace the old row; others are kept."""
    merged = {r.key: r for r in read_rows(path)}
    merged.update({r.key: r for r in rows})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[f.name for f in fields(LatencyRow)])
        writer.writeheader()
        for key in sorted(merged):
            row = asdict(merged[key])
            writer.writerow({k: f"{v:.3f}" if isinstance(v, float) else v for k, v in row.items()})
    tmp.replace(path)


def plot(rows: Sequence[LatencyRow], out: Path, targets: Sequence[tuple[int, float]] = ()) -> None:
    """Cold ask latency p50/p95 and process RSS against passages, one line per stack and pipeline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, mem) = plt.subplots(1, 2, figsize=(12, 4.8))
    series: dict[tuple[str, str], list[LatencyRow]] = {}
    for r in rows:
        series.setdefault((r.stack, r.pipeline), []).append(r)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, ((stack, pipeline), rs) in enumerate(sorted(series.items())):
        rs = sorted(rs, key=lambda r: r.passages)
        x = [r.passages for r in rs]
        color = colors[i % len(colors)]
        lat.plot(x, [r.cold_p95_ms for r in rs], "o-", color=color, label=f"{stack}, {pipeline}: p95")
        lat.plot(x, [r.cold_p50_ms for r in rs], "o--", color=color, alpha=0.6, label=f"{stack}, {pipeline}: p50")
    for n, ms in targets:
        lat.plot([n], [ms], "rv", markersize=9)
        lat.annotate(f"target p95 < {ms:.0f} ms", (n, ms), textcoords="offset points", xytext=(-60, -14), fontsize=8)
    # RSS depends on the stack, not on the pipeline: one line per stack (the largest RSS seen at each size).
    stacks: dict[str, dict[int, float]] = {}
    for r in rows:
        at = stacks.setdefault(r.stack, {})
        at[r.passages] = max(at.get(r.passages, 0.0), r.rss_mb)
    for i, (stack, by_n) in enumerate(sorted(stacks.items())):
        x = sorted(by_n)
        mem.plot(x, [by_n[n] / 1024 for n in x], "s-", color=colors[i % len(colors)], label=f"{stack}: " + ("process + servers" if stack.startswith("postgres") else "process RSS"))
    for ax in (lat, mem):
        ax.set_xscale("log")
        ax.set_xlabel("passages")
        ax.grid(True, which="both", alpha=0.3)
    lat.set_yscale("log")
    lat.set_ylabel("ask latency, cold, ms")
    lat.set_title("NewsService.ask end to end")
    mem.set_ylabel("GB")
    mem.set_title("memory: the asking process (+ its servers)")
    lat.legend(fontsize=7)
    mem.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Draw the CSV's rows into an image."""
    p = argparse.ArgumentParser(prog="bench.speed_plot", description=__doc__)
    p.add_argument("--csv", type=Path, default=RESULTS / "speed.csv")
    p.add_argument("--out", type=Path, default=RESULTS / "speed.png")
    args = p.parse_args(argv)
    rows = read_rows(args.csv)
    if not rows:
        raise SystemExit(f"no rows in {args.csv}: run `python -m bench.speed --sections latency` first")
    # Issue 14's targets for the embedded stack.
    plot(rows, args.out, targets=[(1_000_000, 100.0), (10_000_000, 300.0)])
    print(f"wrote {args.out} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
