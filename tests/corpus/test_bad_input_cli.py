"""Issue 12 through the real `newsbot` CLI: each bad input is one clear warning and every good record is stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.embeddings import Embedder
from tests.conftest import REPO, run_cli

GOOD = [
    {"title": "Varna harbour reopens", "body": "The harbour of Varna reopened to ferries on Monday."},
    {"title": "Danube bridge closed", "body": "The bridge over the Danube at Ruse closed for repairs."},
]


def stored_count(capsys: pytest.CaptureFixture[str]) -> int:
    """How many articles `newsbot stats --json` reports."""
    code, out, _ = run_cli(["stats", "--json"], capsys)
    assert code == 0
    return int(json.loads(out)["articles"])


def jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Path:
    """A data dir of its own, and the session's model instead of a fresh load."""
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("index.service.Embedder", lambda *a, **k: embedder)
    return tmp_path


# --- 1. a far-out date ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date", ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00+01:00"]
)
def test_far_out_date_is_one_reported_record(
    cli_env: Path, capsys: pytest.CaptureFixture[str], date: str
) -> None:
    far = {"title": "Far out", "body": "A record with an impossible date.", "published_at": date}
    path = jsonl(cli_env / "dates.jsonl", [json.dumps(GOOD[0]), json.dumps(far), json.dumps(GOOD[1])])
    code, out, err = run_cli(["ingest", "--quiet", str(path)], capsys)
    assert code == 0, err
    assert "2 new" in out
    assert f"{path}:2: date {date!r} is out of range" in err
    assert stored_count(capsys) == 2


def test_far_out_front_matter_date_keeps_the_article_without_a_date(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md = cli_env / "old.md"
    md.write_text("---\ntitle: Ancient story\ndate: 0001-01-01\n---\n\nThe body of an old story.\n")
    code, out, err = run_cli(
        ["ingest", "--quiet", str(md), str(jsonl(cli_env / "g.jsonl", [json.dumps(GOOD[0])]))], capsys
    )
    assert code == 0, err
    assert "2 new" in out
    assert f"{md}:3: date '0001-01-01' is out of range" in err and "loaded without a date" in err


# --- 3. deeply nested JSON --------------------------------------------------------------------------------


def test_deeply_nested_json_line_is_one_bad_line(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep_list = "[" * 1500 + "]" * 1500
    deep_object = '{"a":' * 1500 + "1" + "}" * 1500
    # Depth 500 is fine: a good record carrying a 500-deep extra field is stored.
    ok = dict(GOOD[1], extra=json.loads("[" * 500 + "]" * 500))
    path = jsonl(cli_env / "deep.jsonl", [json.dumps(GOOD[0]), deep_list, deep_object, json.dumps(ok)])
    code, out, err = run_cli(["ingest", "--quiet", str(path)], capsys)
    assert code == 0, err
    assert "2 new" in out
    assert f"{path}:2: JSON nested too deeply" in err
    assert f"{path}:3: JSON nested too deeply" in err
    assert stored_count(capsys) == 2


def test_deeply_nested_json_file_is_one_bad_file(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = cli_env / "deep.json"
    deep.write_text("[" * 1500 + "]" * 1500)
    good = jsonl(cli_env / "good.jsonl", [json.dumps(GOOD[0])])
    code, out, err = run_cli(["ingest", "--quiet", str(deep), str(good)], capsys)
    assert code == 0, err
    assert "1 new" in out and f"{deep}: JSON nested too deeply" in err


# --- 5. huge files and records ----------------------------------------------------------------------------


def test_file_and_record_limits_name_the_file_and_keep_the_rest(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSBOT_CORPUS__MAX_FILE_BYTES", "200000")
    monkeypatch.setenv("NEWSBOT_CORPUS__MAX_RECORD_BYTES", "20000")
    big_file = cli_env / "big.txt"
    big_file.write_text("Headline\n" + "A sentence about the port. " * 10_000 + "\n")
    long_line = json.dumps({"title": "Too long", "body": "word " * 10_000})
    records = jsonl(cli_env / "records.jsonl", [json.dumps(GOOD[0]), long_line, json.dumps(GOOD[1])])
    code, out, err = run_cli(["ingest", "--quiet", str(big_file), str(records)], capsys)
    assert code == 0, err
    assert "2 new" in out
    assert f"{big_file}: file is 270.0 kB, over the limit of 200.0 kB (corpus.max_file_bytes)" in err
    assert f"{records}:2: line is 50.0 kB, over the limit of 20.0 kB (corpus.max_record_bytes)" in err


def test_huge_file_and_record_are_refused_in_bounded_memory(
    tmp_path: Path, models_dir: Path, embedder: Embedder
) -> None:
    # The cases at full size, in a process of their own so that its peak RSS is theirs alone:
    # a 50 MB single-line text file took 216 s and 7.35 GB, a 10 MB JSON body 1.7 GB.
    huge_txt = tmp_path / "huge.txt"
    with huge_txt.open("w") as fh:
        fh.write("Headline of a runaway file\n")
        for _ in range(50):
            fh.write("and the harbour and the ferry " * 33_333)
        fh.write("\n")
    huge_json = tmp_path / "huge.json"
    huge_json.write_text(json.dumps({"title": "Huge body", "body": "the ferry sailed " * 600_000}))
    good = jsonl(tmp_path / "good.jsonl", [json.dumps(r) for r in GOOD])
    # VmHWM is this process's own peak; ru_maxrss would carry over the (large) pytest process's peak
    # through fork and exec.
    script = (
        "import re, sys\n"
        "from bot.cli import main\n"
        "try:\n    main(sys.argv[1:])\n"
        "finally:\n"
        "    status = open('/proc/self/status').read()\n"
        "    print('peak_kb', re.search(r'VmHWM:\\s*(\\d+)', status).group(1), file=sys.stderr)\n"
    )
    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_INDEX__MODELS_DIR": str(models_dir),
        "HF_HUB_OFFLINE": "1",
        "NEWSBOT_CONFIG": str(REPO / "settings.toml"),
    }
    argv = [sys.executable, "-c", script, "ingest", "--quiet", str(huge_txt), str(huge_json), str(good)]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 new" in proc.stdout
    assert (
        f"{huge_txt}:2: paragraph is 50.0 MB, over the limit of 5.0 MB (corpus.max_record_bytes)"
        in proc.stderr
    )
    assert f"{huge_json}: article text is 10.2 MB, over the limit of 5.0 MB" in proc.stderr
    peak_mb = int(proc.stderr.rsplit("peak_kb", 1)[1].split()[0]) / 1024
    assert peak_mb < 1024, f"peak RSS {peak_mb:.0f} MB"
