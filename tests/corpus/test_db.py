"""The SQLite base: several processes may open one new database at the same moment."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Each process opens the same new file per round at the same wall-clock instant, then says which failed.
_OPENER = """
import sys, time
from pathlib import Path
from corpus.db import Database
from corpus.errors import StoreError
root, start, rounds = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
for i in range(rounds):
    time.sleep(max(0.0, start + i * 0.15 - time.time()))
    try:
        Database(root / f"bot{i}.db", "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY);").close()
    except StoreError as exc:
        print(i, exc)
"""


def test_processes_opening_one_new_database_together_all_get_it(tmp_path: Path) -> None:
    # Four processes, twenty new files: before the WAL switch waited, about one round in four failed.
    start, rounds = time.time() + 2.0, 20
    argv = [sys.executable, "-c", _OPENER, str(tmp_path), str(start), str(rounds)]
    procs = [subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0]
    assert outputs == ["", "", "", ""]
    assert len(list(tmp_path.glob("bot*.db"))) == rounds
