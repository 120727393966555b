"""The journal under damage and abuse: lines a fold can't take are
quarantined (never skipped or deleted) and salvaged by ``doctor``; a trial
too large is cut and flagged, an input too large refused; text UTF-8 can't
hold is escaped; a clock stepping back can't undo a run's end; a deleted lock
can't let two folds run; a full disk is reported once, with its cause."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import duckdb
import pytest
from support.history import query_file, trial_row
from support.providers import RecordingDisplay, ScriptedProvider, running_stub_server

import promptlab as pl
from promptlab.core.files import file_lock
from promptlab.core.trial import MAX_INPUT_BYTES, MAX_TRIAL_BYTES
from promptlab.errors import DataError, DiskFullError, HistoryWarning
from promptlab.providers import Completion, Request
from promptlab.store import fold, journal
from promptlab.store.segments import TRUNCATION_NOTE
from promptlab.testing import fake_model

PROMPT = pl.Prompt("Echo {{ text }}", name="echo")


def sealed_segment(lab: pl.Lab, lines: list[bytes], table: str = "trials") -> Path:
    """A sealed segment written by hand (as a crashed disk or a person might leave it)."""
    path = lab.store.journal.root / table / f"{time.time_ns():020d}-byhand-1-00000000.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def good(output: str) -> bytes:
    return json.dumps(trial_row(output=output)).encode()


def in_file(lab: pl.Lab, sql: str) -> list[tuple[object, ...]]:
    return query_file(lab.path, sql)


# -- damaged lines are quarantined, reported and salvaged ---------------------------------


def test_damaged_lines_are_quarantined_with_a_warning_and_the_rest_folded(lab: pl.Lab) -> None:
    torn = good("torn")[:60]
    garbled = good("garbled").replace(b'"output"', b'"output" 17')
    not_utf8 = good("caf\xe9 latin-1").replace(b"caf\\u00e9", b"caf\xe9")
    zeros = b"\x00" * 300
    segment = sealed_segment(lab, [good("first"), torn, good("second"), garbled, not_utf8, zeros, good("third")])
    size = segment.stat().st_size
    with pytest.warns(HistoryWarning, match=rf"4 line\(s\) of journal segment {segment.name}.*db doctor"):
        assert lab.fold() == 1
    assert sorted(r[0] for r in in_file(lab, "SELECT output FROM trials")) == ["first", "second", "third"]
    assert not segment.exists()
    kept = lab.store.journal.quarantine_root / "trials" / segment.name
    assert kept.stat().st_size == size  # kept whole, never deleted

    checkup = lab.doctor()
    assert not checkup.ok
    [found] = checkup.quarantined
    assert [n for n, _ in found.bad_lines] == [2, 4, 5, 6]
    assert "not UTF-8" in dict(found.bad_lines)[5] and "zero bytes" in dict(found.bad_lines)[6]
    assert segment.name in str(checkup)

    repaired = lab.doctor(salvage=True)
    [result] = repaired.salvaged
    assert result.recovered == 1  # the latin-1 line, with U+FFFD where the byte was
    assert sorted(n for n, _ in result.lost) == [2, 4, 6]
    assert "caf\ufffd latin-1" in set(lab.trials(kind=None)["output"])
    assert repaired.ok  # what could be recovered is; the rest stays in the kept file
    assert lab.doctor(salvage=True).salvaged == ()  # salvaging twice records nothing twice


def test_a_zero_filled_segment_is_kept_not_deleted(lab: pl.Lab) -> None:
    segment = sealed_segment(lab, [good(f"row {i}") for i in range(40)])
    size = segment.stat().st_size
    segment.write_bytes(b"\x00" * size)  # what some file systems leave after a crash
    with pytest.warns(HistoryWarning, match="could not be folded"):
        lab.fold()
    assert in_file(lab, "SELECT count(*) FROM trials") == [(0,)]
    assert (lab.store.journal.quarantine_root / "trials" / segment.name).read_bytes() == b"\x00" * size


def test_a_line_too_large_to_read_leaves_reads_working_and_is_folded_cut(lab: pl.Lab) -> None:
    huge = trial_row(output="x" * (5 * MAX_TRIAL_BYTES))  # over read_json's limit for readers too
    segment = sealed_segment(lab, [good("small"), json.dumps(huge).encode()])
    lab.store.fold_soon = lambda delay=0.0: None  # type: ignore[method-assign]  # keep it unfolded for the read
    with pytest.warns(HistoryWarning, match="too large to read"):
        assert lab.trials(kind=None).empty  # the read works; that segment waits for the fold
    with pytest.warns(HistoryWarning, match="folded with its output cut"):
        lab.fold()
    rows = in_file(lab, "SELECT output, truncated FROM trials ORDER BY length(output)")
    assert rows[0][0] == "small" and not rows[0][1]
    assert rows[1][1] is True and rows[1][0].endswith(TRUNCATION_NOTE) and len(rows[1][0]) < MAX_TRIAL_BYTES
    assert (lab.store.journal.quarantine_root / "trials" / segment.name).stat().st_size > 5 * MAX_TRIAL_BYTES


# -- sizes and text at record time ---------------------------------------------------------


def test_an_oversized_output_is_recorded_cut_and_flagged(
    lab: pl.Lab, scripted: type[ScriptedProvider], recording_display: RecordingDisplay
) -> None:
    async def enormous(request: Request, text: str, attempt: int) -> Completion:
        output = "word " * (MAX_TRIAL_BYTES // 4)
        return Completion(output=output, raw={"choices": [{"message": {"content": output}}]})

    provider = scripted(behave=enormous)
    run = lab.sweep(PROMPT, provider.model(), [{"text": "a"}, {"text": "b"}], display=recording_display)
    assert run.status == "done" and len(run.df) == 2
    stored = lab.trial(run.df["trial_id"][0])
    assert stored["truncated"] is True or stored["truncated"] == 1
    assert stored["output"].endswith(TRUNCATION_NOTE)
    assert any("larger than a trial may hold" in m for m in recording_display.messages)
    lab.fold()
    assert in_file(lab, "SELECT count(*) FROM trials WHERE truncated") == [(2,)]


def test_the_response_body_does_not_store_the_output_again(lab: pl.Lab, scripted: type[ScriptedProvider]) -> None:
    async def answer(request: Request, text: str, attempt: int) -> Completion:
        body = {"id": "r1", "choices": [{"message": {"role": "assistant", "content": "the answer"}}]}
        return Completion(output="the answer", raw=body)

    run = lab.sweep(PROMPT, scripted(behave=answer).model(), [{"text": "a"}], display=None)
    response = lab.trial(run.df["trial_id"][0])["response"]
    assert response["choices"][0]["message"] == {"role": "assistant", "content": None}
    assert run.df["output"][0] == "the answer"


def test_an_input_too_large_is_refused_before_any_call(lab: pl.Lab, scripted: type[ScriptedProvider]) -> None:
    provider = scripted()
    rows = [{"text": "fine"}, {"text": "y" * MAX_INPUT_BYTES}]
    with pytest.raises(DataError, match=r"row 1 is too large to record"):
        lab.sweep(PROMPT, provider.model(), rows, display=None)
    assert provider.calls == 0
    assert lab.runs().empty


def test_a_lone_surrogate_in_an_output_is_recorded_escaped(lab: pl.Lab, scripted: type[ScriptedProvider]) -> None:
    async def surrogate(request: Request, text: str, attempt: int) -> Completion:
        return Completion(output=f"half of a pair: \ud800 ({text})", raw={"note": "\udfff"})

    run = lab.sweep(PROMPT, scripted(behave=surrogate).model(), [{"text": str(i)} for i in range(5)], display=None)
    assert run.status == "done" and len(run.df) == 5
    assert set(run.df["output"]) == {f"half of a pair: \\ud800 (Echo {i})" for i in range(5)}
    lab.fold()
    assert in_file(lab, "SELECT count(*) FROM trials") == [(5,)]
    again = lab.sweep(PROMPT, scripted(behave=surrogate).model(), [{"text": "9"}], display=None)
    assert again.status == "done"


def test_a_lone_surrogate_in_an_input_is_refused_with_its_row(lab: pl.Lab) -> None:
    with pytest.raises(DataError, match=r"row 2, column 'text' holds a lone surrogate"):
        lab.sweep(PROMPT, fake_model("echo"), [{"text": "a"}, {"text": "b"}, {"text": "bad \udc80"}], display=None)


# -- the order of a run's states, the lock, a full disk --------------------------------------


def test_a_clock_stepping_back_cannot_undo_a_runs_end(lab: pl.Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    real = journal._monotonic_ns
    times = iter([10**18, 10**18 - 10**15])  # the second writer's clock is behind the first's
    monkeypatch.setattr(journal, "_monotonic_ns", lambda: next(times, None) or real())
    row = {"run_id": "r1", "experiment": "e", "fingerprint": "f", "status": "running", "n_cells": 1, "revision": 1}
    lab.store.append({"runs": [row]})
    lab.store.append({"runs": [{**row, "status": "done", "revision": 2}]})
    assert list(lab.runs()["status"]) == ["done"]  # read from the journal
    lab.fold()
    assert list(lab.runs()["status"]) == ["done"]  # and after the fold
    assert in_file(lab, "SELECT status FROM runs") == [("done",)]


def test_a_deleted_lock_cannot_let_two_folds_run_at_once(lab: pl.Lab) -> None:
    with file_lock(lab.store.lock_path, exclusive=True, timeout=0) as held:
        assert held
        for leftover in lab.path.parent.glob("*.lock"):
            leftover.unlink()  # what a person tidying the folder might do
        with file_lock(lab.store.lock_path, exclusive=True, timeout=0.2) as second:
            assert not second


def test_a_lock_replaced_while_held_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "thing.lock"
    with file_lock(path, exclusive=True, timeout=0) as first:
        assert first
        path.unlink()
        path.touch()  # someone else's new file of the same name
        with file_lock(path, exclusive=True, timeout=0) as second:
            assert second  # a fresh lock on the file that is there now: never on the deleted one


def test_a_full_disk_is_one_clear_error_and_what_was_recorded_is_safe(
    lab: pl.Lab, scripted: type[ScriptedProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = scripted()
    writes = 0
    real_write = os.write

    def filling(fd: int, data: bytes) -> int:
        nonlocal writes
        writes += 1
        if writes > 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(journal.os, "write", filling)
    rows = [{"text": str(i)} for i in range(30)]
    with pytest.raises(DiskFullError, match=r"is full.*safe in the journal.*run the same sweep again") as info:
        lab.sweep(PROMPT, provider.model(), rows, concurrency=1, display=None)
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert "of 30 cells are recorded" in str(info.value)
    monkeypatch.setattr(journal.os, "write", real_write)

    reopened = pl.Lab(lab.path)  # reads work; nothing acknowledged was lost
    recorded = len(reopened.trials())
    assert 0 < recorded < 30
    run = reopened.sweep(PROMPT, provider.model(), rows, concurrency=1, display=None)
    assert run.status == "done" and len(run.df) == 30


def test_a_fold_failing_on_a_full_disk_keeps_its_real_error_and_lets_reads_work(
    lab: pl.Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.store.append({"trials": [trial_row(output="safe")]})

    def no_space(*args: object, **kwargs: object) -> None:
        raise duckdb.IOException("IO Error: No space left on device")

    monkeypatch.setattr(fold, "insert_rows", no_space)
    with pytest.raises(duckdb.IOException, match="No space left"):
        lab.fold()
    with pytest.warns(HistoryWarning, match="could not be folded now.*No space left"):
        again = pl.Lab(lab.path)
    assert list(again.trials(kind=None)["output"]) == ["safe"]
    monkeypatch.undo()
    assert again.fold() >= 1


def test_promptlab_db_doctor_and_verify_on_the_command_line(lab: pl.Lab, capsys: pytest.CaptureFixture[str]) -> None:
    from promptlab.cli import main

    lab.sweep(PROMPT, fake_model("echo"), [{"text": "a"}], display=None)
    assert main(["--db", str(lab.path), "db", "doctor"]) == 0
    assert "quarantine: empty" in capsys.readouterr().out
    assert main(["--db", str(lab.path), "db", "verify"]) == 0
    assert "the chain is intact" in capsys.readouterr().out
    segment = sealed_segment(lab, [good("kept"), b"{torn"])
    with pytest.warns(HistoryWarning):
        lab.fold()
    assert main(["--db", str(lab.path), "db", "doctor"]) == 1
    out = capsys.readouterr().out
    assert segment.name in out and "line 2: not JSON" in out and "needs attention" in out
    assert main(["--db", str(lab.path), "db", "doctor", "--salvage"]) == 0  # nothing more to recover: salvaged
    assert "could not be repaired" in capsys.readouterr().out


@pytest.mark.parametrize("stream", [False, True])
def test_a_lone_surrogate_from_an_openai_compatible_server_is_recorded_escaped(lab: pl.Lab, stream: bool) -> None:
    rows = [{"text": f"[surrogate] {i}"} for i in range(4)]
    with running_stub_server() as server:
        model = pl.Model("stub", base_url=server.url, **({"stream": True} if stream else {}))
        run = lab.sweep(PROMPT, model, rows, display=None)
    assert run.status == "done" and run.df["error_type"].isna().all()
    assert sorted(run.df["output"]) == [f"Echo half \\ud800 pair {i}" for i in range(4)]
    lab.fold()
    assert in_file(lab, "SELECT count(*) FROM trials") == [(4,)]
