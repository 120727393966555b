"""The history file's tables, as promptlab writes them today.

This declaration is what the journal writes and what readers and the fold
read; ``migrations.py`` is how a file gets there from any older schema, and
a test keeps the two in step. Times are UTC ``TIMESTAMP``s; JSON columns hold
JSON text.

Tables (any DuckDB client can read them; ``trials_view`` is the flat one):

- ``experiments``: one row per experiment name, with description and tags.
- ``prompts``: every (name, version) ever run, with its template.
- ``models``: every model config ever run (no secrets: none is ever kept).
- ``runs``: one row per sweep execution, its config and status.
- ``trials``: one row per executed cell: request, response, cost, lineage.
- ``feedback``: people's verdicts on trials: votes (+1/-1), corrections,
  comments and actions, each with who and when.
- ``scores``: evaluators' verdicts on trials (value, pass/fail, label,
  explanation, or the error that kept it from scoring), with a link to the
  judge's own trial for model-graded ones. Re-scoring appends; the newest
  score per (trial, evaluator) is the one shown.

- ``label_events``: the audit log of labels (``production``, ``staging``,
  ...): every promotion and rollback of a prompt name's label, from which
  version to which, with the recommended model, who moved it, who approved,
  a note and the evidence (runs and headline scores), the policy in force,
  a sequence number ``seq`` and a hash chaining it to the event before. A
  label points at the version of its chained event with the highest
  ``seq`` (events from before the chain order by time, before any chained
  one); the view ``labels`` shows that.

- ``dataset_changes``: named test sets, one row per row added to (``op``
  ``add``) or removed from (``remove``) a dataset by one change; a row is
  known by the hash of its content, and a dataset's version after a change
  is a hash of the rows it then holds (``promptlab.release.datasets``).

``trials.kind`` is ``sweep`` for the cells of a sweep, ``judge`` for the
calls a judge made to grade them and ``production`` for calls an
application logged (``promptlab.production``): those also say the label
that served the prompt, the app's own id for the call (``external_id``), its
end user and session, and free ``metadata``; ``source`` is the app's name.
Feedback an application sends names its ``source`` and ``end_user``, and may
name the trial by the app's ``external_id`` instead of its trial id.
``trials.truncated`` marks an output cut to the size a trial may hold. ``runs.revision`` counts a run's states: the
highest is the run's current one; ``runs.heartbeat_at`` is when its process
last said it was alive (a run left ``running`` by a process that died reads
as ``interrupted``).
- ``privacy_log``: the privacy audit log, append-only
  (``promptlab.privacy``): every approval (``action`` ``approve``: which
  ``tier`` of data may go to which ``model`` or ``export`` for which
  ``use``, who asked, who approved, why, until when), every request and
  refusal, every use of an approval by a sweep or an export, and every
  erasure and prune (their counts, never the data erased).

``trials.tier`` is the data tier of what went into a trial (the highest of
its row's, its data's, its dataset's, its experiment's or its app's);
``dataset_changes.tier`` the tier of the rows a change added. NULL (rows
from before tiers) reads as the policy's default tier.
- ``corpora`` and ``corpus_documents``: every corpus a sweep searched
  (``promptlab.retrieval``), known by its content version, with its
  documents' ids, texts and metadata, so a trial's ``retrieval`` names a
  corpus the history still holds. ``trials.retriever`` is the label of the
  retriever that found a trial's context, ``trials.retrieval`` (JSON) what it
  found: the query, corpus, version, settings, ``k`` and the hits (passage
  and document ids, scores, ranks, texts).
- ``schema_migrations``: which migrations this file has had.

Derived from the trials, in the same transaction as they are folded (never
journaled): ``search_docs`` and ``search_postings``, the search index
(``search_index.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A table of the history file, and how journaled rows merge into it."""

    name: str
    """Table name."""

    columns: tuple[tuple[str, str], ...]
    """(column, DuckDB type) pairs, in order."""

    key: tuple[str, ...]
    """Primary key columns."""

    replace: bool
    """True: a later row for a key replaces the earlier one (runs move through
    states). False: the first row for a key stands (trials never change)."""

    revision: str | None = None
    """For ``replace`` tables: a column the writer counts up with every new state
    of a key, so the newest state wins by its number, not by a clock (which can
    step backwards). Without one, the newest journal segment wins."""

    @property
    def column_names(self) -> list[str]:
        """The column names, in order."""
        return [name for name, _ in self.columns]

    def json_columns_spec(self) -> str:
        """The ``columns=`` struct literal for DuckDB's ``read_json``."""
        return "{" + ", ".join(f"'{name}': '{sql_type}'" for name, sql_type in self.columns) + "}"


LINEAGE = (
    ("user", "VARCHAR"),
    ("host", "VARCHAR"),
    ("pid", "INTEGER"),
    ("source", "VARCHAR"),
    ("git_commit", "VARCHAR"),
    ("promptlab_version", "VARCHAR"),
)

EXPERIMENTS = Table(
    "experiments",
    (
        ("name", "VARCHAR"),
        ("description", "VARCHAR"),
        ("tags", "JSON"),
        ("created_at", "TIMESTAMP"),
        ("created_by", "VARCHAR"),
    ),
    key=("name",),
    replace=True,
)

PROMPTS = Table(
    "prompts",
    (
        ("name", "VARCHAR"),
        ("version", "VARCHAR"),
        ("template", "JSON"),
        ("variables", "JSON"),
        ("created_at", "TIMESTAMP"),
        ("created_by", "VARCHAR"),
    ),
    key=("name", "version"),
    replace=False,
)

MODELS = Table(
    "models",
    (
        ("model_id", "VARCHAR"),
        ("provider", "VARCHAR"),
        ("name", "VARCHAR"),
        ("base_url", "VARCHAR"),
        ("params", "JSON"),
        ("created_at", "TIMESTAMP"),
    ),
    key=("model_id",),
    replace=False,
)

RUNS = Table(
    "runs",
    (
        ("run_id", "VARCHAR"),
        ("experiment", "VARCHAR"),
        ("fingerprint", "VARCHAR"),
        ("status", "VARCHAR"),
        ("n_cells", "INTEGER"),
        ("config", "JSON"),
        ("started_at", "TIMESTAMP"),
        ("ended_at", "TIMESTAMP"),
        ("error", "VARCHAR"),
        *LINEAGE,
        ("revision", "INTEGER"),
        ("heartbeat_at", "TIMESTAMP"),
    ),
    key=("run_id",),
    replace=True,
    revision="revision",
)

TRIALS = Table(
    "trials",
    (
        ("trial_id", "VARCHAR"),
        ("run_id", "VARCHAR"),
        ("experiment", "VARCHAR"),
        ("cell_key", "VARCHAR"),
        ("cache_key", "VARCHAR"),
        ("prompt_name", "VARCHAR"),
        ("prompt_version", "VARCHAR"),
        ("model", "VARCHAR"),
        ("model_id", "VARCHAR"),
        ("provider", "VARCHAR"),
        ("params", "JSON"),
        ("row_index", "INTEGER"),
        ("vars", "JSON"),
        ("repeat", "INTEGER"),
        ("messages", "JSON"),
        ("output", "VARCHAR"),
        ("finish_reason", "VARCHAR"),
        ("error_type", "VARCHAR"),
        ("error", "VARCHAR"),
        ("latency_ms", "DOUBLE"),
        ("ttft_ms", "DOUBLE"),
        ("prompt_tokens", "INTEGER"),
        ("completion_tokens", "INTEGER"),
        ("cost_usd", "DOUBLE"),
        ("cached", "BOOLEAN"),
        ("cached_from", "VARCHAR"),
        ("attempts", "INTEGER"),
        ("request_id", "VARCHAR"),
        ("response", "JSON"),
        ("started_at", "TIMESTAMP"),
        ("created_at", "TIMESTAMP"),
        *LINEAGE,
        ("kind", "VARCHAR"),
        ("truncated", "BOOLEAN"),
        ("label", "VARCHAR"),
        ("external_id", "VARCHAR"),
        ("end_user", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("metadata", "JSON"),
        ("tier", "VARCHAR"),
        ("retriever", "VARCHAR"),
        ("retrieval", "JSON"),
    ),
    key=("trial_id",),
    replace=False,
)

FEEDBACK = Table(
    "feedback",
    (
        ("feedback_id", "VARCHAR"),
        ("trial_id", "VARCHAR"),
        ("vote", "INTEGER"),
        ("correction", "VARCHAR"),
        ("comment", "VARCHAR"),
        ("action", "VARCHAR"),
        ("user", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
        ("external_id", "VARCHAR"),
        ("source", "VARCHAR"),
        ("end_user", "VARCHAR"),
    ),
    key=("feedback_id",),
    replace=False,
)

SCORES = Table(
    "scores",
    (
        ("score_id", "VARCHAR"),
        ("trial_id", "VARCHAR"),
        ("run_id", "VARCHAR"),
        ("evaluator", "VARCHAR"),
        ("evaluator_name", "VARCHAR"),
        ("args", "JSON"),
        ("value", "DOUBLE"),
        ("passed", "BOOLEAN"),
        ("label", "VARCHAR"),
        ("explanation", "VARCHAR"),
        ("error", "VARCHAR"),
        ("judge_trial_id", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
        ("user", "VARCHAR"),
    ),
    key=("score_id",),
    replace=False,
)

LABEL_EVENTS = Table(
    "label_events",
    (
        ("event_id", "VARCHAR"),
        ("name", "VARCHAR"),
        ("label", "VARCHAR"),
        ("action", "VARCHAR"),
        ("from_version", "VARCHAR"),
        ("to_version", "VARCHAR"),
        ("model", "JSON"),
        ("user", "VARCHAR"),
        ("approved_by", "VARCHAR"),
        ("note", "VARCHAR"),
        ("evidence", "JSON"),
        ("created_at", "TIMESTAMP"),
        ("seq", "BIGINT"),
        ("policy", "JSON"),
        ("prev_hash", "VARCHAR"),
        ("hash", "VARCHAR"),
    ),
    key=("event_id",),
    replace=False,
)

DATASET_CHANGES = Table(
    "dataset_changes",
    (
        ("change_id", "VARCHAR"),
        ("dataset", "VARCHAR"),
        ("op", "VARCHAR"),
        ("row_hash", "VARCHAR"),
        ("row", "JSON"),
        ("trial_id", "VARCHAR"),
        ("note", "VARCHAR"),
        ("user", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
        ("tier", "VARCHAR"),
    ),
    key=("change_id", "row_hash"),
    replace=False,
)

PRIVACY_LOG = Table(
    "privacy_log",
    (
        ("event_id", "VARCHAR"),
        ("action", "VARCHAR"),
        ("tier", "VARCHAR"),
        ("use", "VARCHAR"),
        ("model", "VARCHAR"),
        ("export", "VARCHAR"),
        ("requested_by", "VARCHAR"),
        ("approved_by", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("expires_at", "TIMESTAMP"),
        ("approval_id", "VARCHAR"),
        ("detail", "JSON"),
        ("user", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
    ),
    key=("event_id",),
    replace=False,
)

CORPORA = Table(
    "corpora",
    (
        ("corpus_version", "VARCHAR"),
        ("name", "VARCHAR"),
        ("documents", "INTEGER"),
        ("characters", "BIGINT"),
        ("created_at", "TIMESTAMP"),
        ("created_by", "VARCHAR"),
    ),
    key=("corpus_version",),
    replace=False,
)

CORPUS_DOCUMENTS = Table(
    "corpus_documents",
    (
        ("corpus_version", "VARCHAR"),
        ("doc_id", "VARCHAR"),
        ("text", "VARCHAR"),
        ("metadata", "JSON"),
    ),
    key=("corpus_version", "doc_id"),
    replace=False,
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        EXPERIMENTS,
        PROMPTS,
        MODELS,
        RUNS,
        TRIALS,
        FEEDBACK,
        SCORES,
        LABEL_EVENTS,
        DATASET_CHANGES,
        PRIVACY_LOG,
        CORPORA,
        CORPUS_DOCUMENTS,
    )
}
"""Every journaled table, in the order a group of writes is published."""

DERIVED: dict[str, tuple[tuple[str, str], ...]] = {
    "search_docs": (("doc", "BIGINT"), ("trial_id", "VARCHAR")),
    "search_postings": (("term", "VARCHAR"), ("docs", "BIGINT[]")),
}
"""Tables the fold keeps from the trials (not journaled): their (column, type) pairs."""
