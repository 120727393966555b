"""The search index: the same answers as the substring scan it narrows, kept
up to date by the fold, built for files from before it, and never trusted
to stand in for the scan where it can't."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from support.providers import ScriptedProvider

import promptlab as pl
from promptlab.errors import HistoryWarning
from promptlab.providers import Completion, Request
from promptlab.runner.progress import NullDisplay
from promptlab.store import Store, reads, search_index

# Inputs and outputs that stress the rules: case, accents (composed and not),
# letters whose lowercase differs between Python and DuckDB, JSON escapes,
# numbers as written, underscores, punctuation, long words, emoji.
CORPUS = [
    ("The quick brown Fox", "jumps over the lazy dog"),
    ("İstanbul in winter", "KELVIN 300\u212a and café"),
    ("cafe\u0301 au lait", "ΟΔΟΣ and Σίσυφος"),
    ('she said "hi"\nthen left', "price: 3.50 USD (50% off)"),
    ("snake_case_name and CamelCase", "x" * 70 + "needle" + "y" * 70),
    ("emoji 🙂 smile", "well-known e-mail: a.b@example.com"),
    ("numbers 12345 and 0.001", "tabs\tand\nnewlines"),
    ("repeat repeat repeat", "Foxes and foxglove"),
]

QUERIES = [
    "fox",
    "Fox",
    "FOXES AND",
    "quick brown",
    "uick bro",
    "istanbul",
    "İstanbul",
    "kelvin 300",
    "300k",
    "caf",
    "café",
    "cafe",
    "οδοσ",
    "ΟΔΟΣ",
    'said "hi"',
    "hi\nthen",
    "3.50",
    "3.5",
    "50%",
    "snake_case",
    "case_name",
    "_case_",
    "needle",
    "xneedley",
    "camelcase",
    "e-mail",
    "@example.",
    "🙂",
    "smile",
    "12345 and 0.0",
    "0.001",
    "and",
    "an",
    "a",
    "repeat repeat",
    "tabs\tand",
    "glove",
    "lazy dog",
    "nothing like this",
    "text",  # a key of the inputs' JSON, not a value
    " the ",
    "!",
]


def _answer(outputs: dict[str, str]) -> Callable[[Request, str, int], Completion]:
    async def answer(request: Request, text: str, attempt: int) -> Completion:
        return Completion(output=outputs[text])

    return answer  # type: ignore[return-value]


def _sweep(lab: pl.Lab, scripted: Callable[..., ScriptedProvider], corpus: list[tuple[str, str]]) -> None:
    provider = scripted(_answer(dict(corpus)))
    lab.sweep(pl.Prompt("{{ text }}"), provider.model(), [{"text": t} for t, _ in corpus], display=NullDisplay())


def _scanned(path: Path, search: str) -> set[str]:
    """The trials the plain substring scan finds, in a file read directly."""
    pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT trial_id FROM trials WHERE array_to_string(json_extract_string(vars, '$.*'), ' ') "
            "ILIKE ? ESCAPE '\\' OR output ILIKE ? ESCAPE '\\'",
            [pattern, pattern],
        ).fetchall()
    return {trial_id for (trial_id,) in rows}


def test_the_index_gives_the_scans_answers(lab: pl.Lab, scripted: Callable[..., ScriptedProvider]) -> None:
    _sweep(lab, scripted, CORPUS)
    lab.fold()
    narrowed = 0
    for query in QUERIES:
        found = set(lab.trials(search=query)["trial_id"])
        assert found == _scanned(lab.path, query), query
        narrowed += search_index.patterns(query) is not None
    assert narrowed >= len(QUERIES) // 2  # most of them went through the index
    assert set(lab.trials(search="fox")["trial_id"]) and lab.runs(search="needle")["n_trials"].tolist() == [8]


def test_a_query_is_narrowed_only_by_words_it_bounds() -> None:
    assert search_index.patterns("fox") == ["%fox%"]
    assert search_index.patterns("quick brown fox") == ["%quick", "brown", "fox%"]
    assert search_index.patterns(" the ") == ["the"]
    assert search_index.patterns("a b") is None  # too short to narrow, and not whole words
    assert search_index.patterns("x an y") == ["an"]  # a whole word narrows however short
    assert search_index.patterns("café") is None  # not ASCII: the scan answers
    assert search_index.patterns("!?") is None


def test_a_search_is_narrowed_by_its_rarest_words(lab: pl.Lab, scripted: Callable[..., ScriptedProvider]) -> None:
    """Only the two patterns held by the fewest trials are intersected (a word
    in every trial narrows nothing and costs the most): the answers stay the scan's."""
    assert search_index.weighed(["%sweep", "17", "item", "4%", "longer%"]) == [
        "item",
        "17",
        "longer%",
        "%sweep",
        "4%",
    ]  # whole words first, then the longest
    assert len(search_index.weighed([f"w{i}" for i in range(20)])) == search_index.WEIGHED
    common = [(f"item {i} of the common batch, marker{i % 3} tail", f"answer {i}") for i in range(12)]
    _sweep(lab, scripted, common)
    lab.fold()
    for query in (
        "item 4 of the common",
        " of the common batch, marker1 ",
        "the common batch, marker2 tail",
        "item 99 ",
    ):
        assert set(lab.trials(search=query)["trial_id"]) == _scanned(lab.path, query), query
    assert len(lab.trials(search=" of the common batch, marker1 ")) == 4


def test_a_search_within_a_few_trials_tests_their_text_directly(
    lab: pl.Lab, scripted: Callable[..., ScriptedProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other filters that leave few trials make the index cost more than it
    saves: they are searched directly; more than ``SCAN_BELOW`` go through it."""
    _sweep(lab, scripted, CORPUS)
    lab.fold()
    everyone = reads.TrialFilter(search="fox")
    one_experiment = reads.TrialFilter(search="fox", experiment="default")
    assert reads.narrowed(lab.store, everyone).search_in is not None
    assert reads.narrowed(lab.store, one_experiment).search_in is None
    found = set(lab.trials(search="fox", experiment="default")["trial_id"])
    monkeypatch.setattr(search_index, "SCAN_BELOW", 0)
    assert reads.narrowed(lab.store, one_experiment).search_in is not None
    assert set(lab.trials(search="fox", experiment="default")["trial_id"]) == found == _scanned(lab.path, "fox")


def test_trials_in_the_journal_are_found_before_they_are_folded(
    lab: pl.Lab, scripted: Callable[..., ScriptedProvider]
) -> None:
    _sweep(lab, scripted, CORPUS[:2])
    lab.fold()
    provider = scripted(_answer({"late arrival": "needle in the journal"}))
    lab.store.fold = lambda wait=0.0: 0  # type: ignore[method-assign]  # keep it in the journal
    lab.sweep(pl.Prompt("{{ text }}"), provider.model(), [{"text": "late arrival"}], display=NullDisplay())
    assert len(lab.store.journal.sealed("trials")) >= 1
    assert list(lab.trials(search="needle")["output"]) == ["needle in the journal"]


def test_the_fold_indexes_each_trial_once(lab: pl.Lab, scripted: Callable[..., ScriptedProvider]) -> None:
    _sweep(lab, scripted, CORPUS)
    lab.fold()
    _sweep(lab, scripted, CORPUS)  # answered from the cache: new trials, the same words
    lab.fold()
    with duckdb.connect(str(lab.path), read_only=True) as con:
        trials = con.execute("SELECT count(*) FROM trials").fetchall()[0][0]
        docs = con.execute("SELECT count(*), count(DISTINCT trial_id), count(DISTINCT doc) FROM search_docs").fetchall()
        assert docs == [(trials, trials, trials)] and trials == 2 * len(CORPUS)
        # folding the same rows again (a fold that couldn't verify retries) adds nothing
        rows = con.execute("SELECT trial_id, CAST(vars AS VARCHAR) AS vars, output FROM trials").df()
    with duckdb.connect(str(lab.path)) as con:
        catalog = str(con.execute("SELECT current_database()").fetchall()[0][0])
        search_index.add_trials(con, catalog, rows.to_dict("records"))
        assert con.execute("SELECT count(*) FROM search_docs").fetchall() == [(trials,)]
    assert len(lab.trials(search="needle")) == 2


def _as_before_the_index(path: Path) -> None:
    """Make ``path`` a file as the promptlab before the index (schema 5) left
    it: without what migrations 6 to 9 made."""
    with duckdb.connect(str(path)) as con:
        con.execute("DROP VIEW trials_view; DROP TABLE search_docs; DROP TABLE search_postings")
        con.execute(
            "DROP TABLE dataset_changes; DROP TABLE privacy_log; DROP TABLE corpora; DROP TABLE corpus_documents"
        )
        for column in ("label", "external_id", "end_user", "session_id", "metadata", "tier", "retriever", "retrieval"):
            con.execute(f"ALTER TABLE trials DROP COLUMN {column}")
        for column in ("external_id", "source", "end_user"):
            con.execute(f"ALTER TABLE feedback DROP COLUMN {column}")
        con.execute("CREATE INDEX trials_cache_key ON trials (cache_key)")
        con.execute("DELETE FROM schema_migrations WHERE version >= 6")
        con.execute("""
            CREATE VIEW trials_view AS
            SELECT t.* EXCLUDE (kind), r.status AS run_status, p.template AS prompt_template,
                   coalesce(t.kind, 'sweep') AS kind
            FROM trials t LEFT JOIN runs r USING (run_id)
            LEFT JOIN prompts p ON p.name = t.prompt_name AND p.version = t.prompt_version
            """)


def test_a_file_from_before_the_index_gets_one_when_opened(
    tmp_path: Path, scripted: Callable[..., ScriptedProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.duckdb"
    lab = pl.Lab(path)
    _sweep(lab, scripted, CORPUS)
    lab.fold()
    before = {query: set(lab.trials(search=query)["trial_id"]) for query in QUERIES}
    del lab
    _as_before_the_index(path)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'search_docs'").fetchall() == [(0,)]
    reader = Store(path, read_only=True)  # as load_prompt opens a file: no upgrade
    read_only = {
        query: set(reads.trials(reader, ["trial_id"], reads.TrialFilter(search=query))["trial_id"])
        for query in QUERIES[:3]
    }
    assert read_only == {query: before[query] for query in QUERIES[:3]}  # not upgraded: the scan answers
    upgraded = pl.Lab(path)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM search_docs").fetchall() == [(len(CORPUS),)]
        indexes = con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()
        assert indexes == []  # the unused indexes on cache_key and run_id are gone
    assert {query: set(upgraded.trials(search=query)["trial_id"]) for query in QUERIES} == before


def test_an_index_cut_short_is_caught_up_when_the_file_is_next_opened(
    lab: pl.Lab, scripted: Callable[..., ScriptedProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    _sweep(lab, scripted, CORPUS)
    lab.fold()
    before = {query: set(lab.trials(search=query)["trial_id"]) for query in QUERIES}
    with duckdb.connect(str(lab.path)) as con:  # as if the upgrade had stopped part way
        con.execute("DELETE FROM search_docs WHERE doc > 3")
    monkeypatch.setattr(search_index, "NOTICE", 5)  # people hear when opening will take a while
    with pytest.warns(HistoryWarning, match=f"indexing {len(CORPUS) - 3} trials of history.duckdb for search, once"):
        again = pl.Lab(lab.path)
    with duckdb.connect(str(lab.path), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT trial_id) FROM search_docs").fetchall() == [
            (len(CORPUS), len(CORPUS))
        ]
    assert {query: set(again.trials(search=query)["trial_id"]) for query in QUERIES} == before
