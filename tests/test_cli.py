"""`upstage-ocr`: result paths on stdout one per line, exit codes per error class, one-line stderr messages,
--no-wait with a background worker, status / fetch / jobs / check. Local engine = the fast fake."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import (
    assert_upstage_json,
    expected_text,
    fake_engine,
    fake_engine_env,
    make_pdf,
    make_png,
    private_tempdir,
)
from upstage_ocr.cli import main

KEY = "up_SeCrEtKeY0123456789abcdef"


@pytest.fixture(autouse=True)
def _fast_local(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    monkeypatch.setenv("UPSTAGE_OCR_WORKERS", "2")
    with fake_engine():
        yield


@pytest.fixture
def tmp(tmp_path) -> Path:
    return (tmp_path / "tmp").resolve()


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("upstage-ocr: "), err
    assert "Traceback" not in err
    return lines[0]


def test_ocr_prints_absolute_result_paths_one_per_line(capsys, tmp_path, tmp):
    a = make_pdf(tmp_path / "first.pdf", 3)
    b = make_png(tmp_path / "second.png", 9)
    code, out, err = run(capsys, "ocr", "--quiet", str(a), str(b))
    assert code == 0, err
    assert out.splitlines() == [str(tmp / "first.ocr.json"), str(tmp / "second.ocr.json")]
    assert err == ""
    data = assert_upstage_json(tmp / "first.ocr.json", pages=3)
    assert data["pages"][2]["text"] == expected_text(3)
    assert assert_upstage_json(tmp / "second.ocr.json", pages=1)["text"] == expected_text(9)


def test_ocr_directory_and_output_dir(capsys, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_png(src / "b.png", 2)
    make_png(src / "a.png", 1)
    (src / "notes.txt").write_text("not a document")
    dest = tmp_path / "out"
    dest.mkdir()
    code, out, err = run(capsys, "ocr", "--quiet", str(src), "-o", str(dest))
    assert code == 0, err
    assert out.splitlines() == [str(dest / "a.ocr.json"), str(dest / "b.ocr.json")]

    code, _out, err = run(capsys, "ocr", str(src / "a.png"), str(src / "b.png"), "-o", str(dest / "x.json"))
    assert code == 2
    assert "-o must be an existing directory" in one_line_error(err)


def test_exit_codes_per_error_class_and_one_line_messages(capsys, tmp_path):
    missing = tmp_path / "missing.pdf"
    code, out, err = run(capsys, "ocr", str(missing))
    assert (code, out) == (2, "")
    assert "file not found" in one_line_error(err)

    unsupported = tmp_path / "data.xyz"
    unsupported.write_bytes(b"\x00\x01binary stuff")
    code, _out, err = run(capsys, "ocr", str(unsupported))
    assert code == 3
    one_line_error(err)

    huge = tmp_path / "huge.png"
    with huge.open("wb") as fh:
        fh.truncate(51 * 1024 * 1024)
    code, _out, err = run(capsys, "ocr", str(huge))
    assert code == 4
    assert "50 MB" in one_line_error(err)

    corrupt = tmp_path / "broken.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100)
    code, _out, err = run(capsys, "ocr", str(corrupt))
    assert code == 5
    one_line_error(err)

    code, _out, err = run(capsys, "ocr", "--engine", "upstage", str(make_png(tmp_path / "k.png")))
    assert code == 10
    line = one_line_error(err)
    assert "UPSTAGE_API_KEY" in line and "--engine local" in line

    code, _out, err = run(capsys, "ocr", "--pages", "7", str(make_pdf(tmp_path / "two.pdf", 2)))
    assert code == 2
    one_line_error(err)

    code, _out, err = run(capsys, "status", "deadbeef")
    assert code == 17
    assert "no job with id 'deadbeef'" in one_line_error(err)

    with pytest.raises(SystemExit) as exc:  # argparse rejects an unknown engine before any work
        main(["ocr", "--engine", "bogus", "x.png"])
    assert exc.value.code == 2
    capsys.readouterr()


def test_several_inputs_one_failing(capsys, tmp_path, tmp):
    good = make_png(tmp_path / "good.png")
    code, out, err = run(capsys, "ocr", "--quiet", str(good), str(tmp_path / "gone.png"))
    assert code == 2
    assert out.splitlines() == [str(tmp / "good.ocr.json")]
    line = one_line_error(err)
    assert "gone.png" in line


def test_status_fetch_jobs(capsys, tmp_path, tmp):
    doc = make_pdf(tmp_path / "three.pdf", 3)
    code, out, _err = run(capsys, "ocr", "--quiet", str(doc))
    assert code == 0
    code, out, _err = run(capsys, "jobs", "--json")
    assert code == 0
    jobs = json.loads(out)
    assert len(jobs) == 1
    job_id = jobs[0]["job_id"]

    code, out, _err = run(capsys, "status", job_id)
    assert code == 0
    st = json.loads(out)
    assert st["status"] == "completed" and st["pages_done"] == st["pages_total"] == 3
    assert st["result_path"] == str(tmp / "three.ocr.json") and st["engine"] == "local"

    code, out, _err = run(capsys, "fetch", job_id, "--pages", "2-3")
    assert code == 0
    assert out == f"--- page 2 ---\n{expected_text(2)}\n--- page 3 ---\n{expected_text(3)}\n"

    code, out, _err = run(capsys, "fetch", job_id, "--pages", "1", "--words")
    pages = json.loads(out)
    assert [p["page"] for p in pages] == [1]
    assert [w["text"] for w in pages[0]["words"]] == ["Page", "1", "hello", "world"]
    assert len(pages[0]["words"][0]["boundingBox"]["vertices"]) == 4

    code, out, _err = run(capsys, "jobs")
    assert code == 0
    assert re.match(rf"{job_id}\s+completed\s+3/3\s+ocr\s+local\s+three\.pdf$", out.strip())

    code, _out, err = run(capsys, "fetch", job_id, "--pages", "9")
    assert code == 2
    one_line_error(err)

    # the same command again reuses the job: same path, nothing new in the store
    code, out, _err = run(capsys, "ocr", "--quiet", str(doc))
    assert out.strip() == str(tmp / "three.ocr.json")
    code, out, _err = run(capsys, "jobs", "--json")
    assert [j["job_id"] for j in json.loads(out)] == [job_id]


def test_no_wait_returns_a_job_id_and_the_job_finishes_in_the_background(capsys, tmp_path, monkeypatch):
    # The background worker is another process: it gets the fake engine through sitecustomize.
    for key, value in fake_engine_env(tmp_path / "site").items():
        if key == "PYTHONPATH":
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("UPSTAGE_OCR_FAKE_DELAY", "0.05")
    doc = make_pdf(tmp_path / "later.pdf", 8)
    started = time.monotonic()
    code, out, err = run(capsys, "ocr", "--no-wait", str(doc))
    assert code == 0, err
    assert time.monotonic() - started < 5
    job_id = out.strip()
    assert re.fullmatch(r"[0-9a-f]{16}", job_id), out

    deadline = time.monotonic() + 60
    while True:
        code, out, _err = run(capsys, "status", job_id)
        st = json.loads(out)
        if st["status"] == "completed":
            break
        assert st["status"] != "failed", st
        assert time.monotonic() < deadline, st
        time.sleep(0.1)
    assert_upstage_json(st["result_path"], pages=8)
    assert json.loads(Path(st["result_path"]).read_text())["pages"][7]["text"] == expected_text(8)


def test_check_masks_the_key(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("UPSTAGE_API_KEY", KEY)
    code, out, err = run(capsys, "check")
    assert code == 0, err
    assert KEY not in out and KEY not in err
    assert KEY[:6] not in out
    line = next(x for x in out.splitlines() if x.startswith("UPSTAGE_API_KEY"))
    assert "***" in line or "…" in line
    assert "env UPSTAGE_API_KEY" in line
    assert re.search(r"UPSTAGE_OCR_ENGINE\s+auto \(-> upstage\)", out)
    assert str(tmp_path / "home" / "jobs.sqlite3") in out

    monkeypatch.delenv("UPSTAGE_API_KEY")
    code, out, _err = run(capsys, "check")
    assert "(not set)" in next(x for x in out.splitlines() if x.startswith("UPSTAGE_API_KEY"))
    assert re.search(r"UPSTAGE_OCR_ENGINE\s+auto \(-> local\)", out)


def test_bad_setting_is_a_config_error(capsys, monkeypatch):
    monkeypatch.setenv("UPSTAGE_OCR_SYNC_PAGES", "many")
    code, _out, err = run(capsys, "check")
    assert code == 6
    assert "UPSTAGE_OCR_SYNC_PAGES" in one_line_error(err)


def test_subprocess_errors_have_no_traceback_and_never_show_the_key(tmp_path):
    env = fake_engine_env(tmp_path / "site")
    env.update(UPSTAGE_API_KEY=KEY, UPSTAGE_BASE_URL="http://127.0.0.1:9/v1", UPSTAGE_OCR_MAX_RETRIES="1")
    proc = subprocess.run(
        [sys.executable, "-m", "upstage_ocr", "ocr", str(tmp_path / "nothing.pdf")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("upstage-ocr: ")
    assert KEY not in proc.stderr

    proc = subprocess.run(
        [sys.executable, "-m", "upstage_ocr", "ocr", "--quiet", str(make_png(tmp_path / "n.png"))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 15, proc.stderr  # NetworkError (nothing listens on port 9), not a generic 17
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr and KEY not in proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("upstage-ocr: ")]
    assert len(errors) == 1 and "could not reach the Upstage API" in errors[0], proc.stderr


# -- end to end against the fake Upstage API as a real local HTTP server --------------------------------------


def wait_completed(capsys, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        code, out, err = run(capsys, "status", job_id)
        assert code == 0, err
        st = json.loads(out)
        if st["status"] == "completed":
            return st
        assert st["status"] != "failed", st
        assert time.monotonic() < deadline, st
        time.sleep(0.1)


def test_end_to_end_against_the_fake_api_over_http(capsys, tmp_path, tmp, monkeypatch):
    from fake_upstage import DEFAULT_KEY, FakeUpstage
    from helpers import downloaded_batches, fast_polling

    fast_polling(monkeypatch)
    fake = FakeUpstage(seconds_per_batch=0.02)
    with fake.serve() as base_url:
        monkeypatch.setenv("UPSTAGE_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("UPSTAGE_BASE_URL", base_url)
        monkeypatch.setenv("UPSTAGE_OCR_RATE_LIMIT", "200")

        # a sync call, then the same file again: no second upload
        small = make_pdf(tmp_path / "small.pdf", 3)
        code, out, err = run(capsys, "ocr", str(small))
        assert code == 0, err
        assert out == f"{tmp / 'small.ocr.json'}\n"
        data = assert_upstage_json(tmp / "small.ocr.json", pages=3)
        assert data["pages"][0]["text"].startswith("Fake OCR page 1")
        assert fake.sync_calls == 1
        assert DEFAULT_KEY not in err
        code, out, _err = run(capsys, "ocr", str(small))
        assert out == f"{tmp / 'small.ocr.json'}\n" and fake.sync_calls == 1

        # a 25-page job in the background (a detached worker process does the work)
        big = make_pdf(tmp_path / "big.pdf", 25)
        code, out, err = run(capsys, "ocr", "--no-wait", str(big))
        assert code == 0, err
        job_id = out.strip()
        st = wait_completed(capsys, job_id)
        assert st["engine"] == "upstage" and st["pages_done"] == 25
        assert_upstage_json(st["result_path"], pages=25)
        code, out, _err = run(capsys, "fetch", job_id, "--pages", "24-25")
        assert out.startswith("--- page 24 ---\nFake OCR page 24 \n")
        assert "--- page 25 ---\nFake OCR page 25 \n" in out
        assert fake.sync_calls == 2

        # a 25-page job through the async API on request: one submit, three batches, each downloaded once
        mid = make_pdf(tmp_path / "mid.pdf", 25, first=300)
        code, out, err = run(capsys, "ocr", "--async", "--quiet", str(mid), "-o", str(tmp_path))
        assert code == 0, err
        assert out == f"{tmp_path / 'mid.ocr.json'}\n"
        data = assert_upstage_json(tmp_path / "mid.ocr.json", pages=25)
        assert [p["id"] for p in data["pages"]] == list(range(25))
        assert fake.submits == 1 and fake.sync_calls == 2
        assert sorted(downloaded_batches(fake)) == [0, 1, 2]

        # more than 100 pages: the async API, each 10-page batch downloaded once
        huge = make_pdf(tmp_path / "huge.pdf", 105)
        code, out, err = run(capsys, "ocr", "--quiet", str(huge), "-o", str(tmp_path))
        assert code == 0, err
        assert out == f"{tmp_path / 'huge.ocr.json'}\n"
        assert_upstage_json(tmp_path / "huge.ocr.json", pages=105)
        assert fake.submits == 2
        assert sorted(downloaded_batches(fake)) == sorted([0, 1, 2, *range(11)])

        code, out, _err = run(capsys, "jobs")
        assert len(out.splitlines()) == 4 and all(" completed " in line for line in out.splitlines())

        # a wrong key: exit 10, one line, the key never shown
        monkeypatch.setenv("UPSTAGE_API_KEY", "up_wrongKEY_99999999999")
        code, out, err = run(capsys, "ocr", "--force", str(small))
        assert code == 10 and out == ""
        assert "up_wrongKEY_99999999999" not in err
        assert "UPSTAGE_API_KEY" in next(x for x in err.splitlines() if x.startswith("upstage-ocr: "))
