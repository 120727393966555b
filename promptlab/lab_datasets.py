"""The Lab's datasets: named, versioned test sets built from rows, files,
runs and production trials (``promptlab.release.datasets`` says how they are
kept), and sweeps run on them: ``data=ds`` or ``data="dataset:NAME[@VERSION]"``
runs on the dataset's rows and records ``dataset:NAME@VERSION`` as the run's data."""

from __future__ import annotations

import os  # noqa: F401  (``Data`` names "os.PathLike": its hints are resolved in this module)
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, cast, overload

import pandas as pd

from promptlab.analysis.columns import decode_json
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.core.rows import Data
from promptlab.lab_privacy import cleared_search, data_name, policy_of, tiered
from promptlab.release import datasets
from promptlab.release.datasets import DatasetChange, Expected
from promptlab.run import Run
from promptlab.runner.plan import PlannedSweep, SweepOptions, plan_sweep
from promptlab.store import Store, dataset_reads, reads
from promptlab.store.location import retrieval_folder
from promptlab.store.reads import Source


class Dataset(Sequence[dict[str, Any]]):
    """A named, versioned test set in the history: ``ds = lab.dataset("support-regressions")``.

    ``ds.add(rows)`` and ``ds.remove(rows)`` change it, one change per call;
    ``ds.version`` is a hash of the rows it holds (the same rows, the same
    version); ``ds.versions()`` lists every change with who made it and when;
    ``ds.rows(version)`` reads any version back. It is a sequence of its
    current rows (``len(ds)``, ``ds[0]``), so ``lab.sweep(..., data=ds)`` and
    ``pl.check(..., data=ds)`` run on them.
    """

    def __init__(self, store: Source, name: str) -> None:
        """Made by ``lab.dataset(name)``: ``store`` is the Lab's."""
        self._store: Store = store
        self._name = datasets.checked_name(name)

    @property
    def name(self) -> str:
        """The dataset's name."""
        return self._name

    @property
    def version(self) -> str | None:
        """The current version (None: it has never held a row)."""
        return datasets.state(self._store, self._name, rows=False)[0]

    def add(
        self,
        rows: Data | Run,
        *,
        note: str | None = None,
        expected: Expected = "correction",
    ) -> DatasetChange:
        """Add rows: a list of dicts, a DataFrame, a file (.jsonl, .csv, .json,
        .parquet), another dataset, or trials (a ``Run``, or a DataFrame from
        ``lab.trials(...)``, production calls included). A trial's row is its
        input variables plus ``expected``: its latest correction when it has one
        (``expected="output"``: its output; None: nothing added), and the change
        keeps its trial id. Rows already there are skipped and counted; what was
        done comes back (``DatasetChange``), and nothing is written when nothing changed."""
        return datasets.change(self._store, self._name, "add", self._entries(rows, expected), note)

    def remove(self, rows: Data | Run | Sequence[str] | pd.Index, *, note: str | None = None) -> DatasetChange:
        """Remove rows, given as ``add`` takes them or by their hashes (the index
        of ``ds.rows()``), in one change; rows not there are skipped and counted."""
        hashes = self._hashes(rows)
        if hashes is not None:
            entries: list[datasets.Entry] = [(h, {}, None) for h in hashes]
        else:
            entries = self._entries(cast("Data | Run", rows), None)
        return datasets.change(self._store, self._name, "remove", entries, note)

    def _hashes(self, rows: object) -> list[str] | None:
        """``rows`` as row hashes when they are hashes (one the dataset holds, a list of them, an index), else None."""
        if isinstance(rows, str):  # a file's path, or one row's hash
            held = datasets.state(self._store, self._name, rows=False)[1]
            return [rows] if rows in held or datasets.looks_like_row_hash(rows) else None
        if isinstance(rows, pd.Index | list | tuple) and len(rows) and all(isinstance(h, str) for h in rows):
            return [str(h) for h in rows]
        return None

    def _entries(self, rows: Data | Run, expected: Expected) -> list[datasets.Entry]:
        usual = policy_of(self._store).default
        if isinstance(rows, Run):
            where = reads.TrialFilter(run=rows.run_id)
            return datasets.trial_entries(self._store, where, expected, usual_tier=usual)
        if isinstance(rows, pd.DataFrame) and datasets.is_trials(rows):
            ids = [str(t) for t in rows["trial_id"]]
            where = reads.TrialFilter(trial_ids=ids, kind=None)
            return datasets.trial_entries(self._store, where, expected, ids, usual_tier=usual)
        return datasets.given_entries(rows)

    def versions(self) -> pd.DataFrame:
        """Every change, oldest first: the ``version`` it made, ``change_id``,
        ``op``, ``user``, ``created_at``, ``n_rows`` then held, rows ``added`` and
        ``removed``, and its ``note``."""
        return datasets.versions(self._store, self._name)

    def rows(self, version: str | None = None) -> pd.DataFrame:
        """The rows at ``version`` (a unique prefix is enough; default the
        current one), in the order they were added, indexed by their hashes."""
        return datasets.rows_frame(datasets.state(self._store, self._name, version)[1])

    def changes(self) -> pd.DataFrame:
        """The change log, a row per row added or removed, oldest first: who
        added what and when, and the trial each row came from (``trial_id``)."""
        log = dataset_reads.dataset_changes(self._store, self._name)
        return log.assign(row=log["row"].map(decode_json))

    def _current(self) -> list[dict[str, Any]]:
        return [dict(row) for row in datasets.state(self._store, self._name)[1].values()]

    def __len__(self) -> int:
        return len(datasets.state(self._store, self._name, rows=False)[1])

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self._current()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._current())  # one read, not one per row

    def __repr__(self) -> str:
        version, held = datasets.state(self._store, self._name, rows=False)
        return f"Dataset({self._name!r}, version={version!r}, {len(held)} rows)"


class DatasetMethods:
    """``Lab`` methods for datasets (a mixin: ``Lab`` provides ``store``)."""

    store: Store

    def dataset(self, name: str) -> Dataset:
        """The dataset called ``name`` (one that doesn't exist yet is empty until
        rows are added): ``lab.dataset("support-regressions").add(trials)``."""
        return Dataset(self.store, name)

    def datasets(self) -> pd.DataFrame:
        """Every dataset, most recently changed first: ``name``, ``version``,
        ``n_rows``, ``n_changes``, when it last changed (``changed_at``) and by whom (``changed_by``)."""
        return datasets.listing(self.store)

    def _plan(
        self,
        prompts: Prompt | Sequence[Prompt],
        models: Model | Sequence[Model],
        data: Data,
        options: SweepOptions,
        *,
        clear: bool = False,
    ) -> PlannedSweep:
        """``plan_sweep``, with a dataset (``Dataset``, or ``"dataset:NAME[@VERSION]"``)
        read at one version and recorded as ``dataset:NAME@VERSION``, and the
        data tier of each row; ``clear``: refused before any call if a row may
        not go where it would (``promptlab.privacy``)."""
        if isinstance(data, Dataset):
            data, described = datasets.resolve(self.store, data.name)
        elif isinstance(data, str) and datasets.is_reference(data):
            data, described = datasets.resolve(self.store, *datasets.parse_reference(data))
        else:
            described = None
        source, declared = described.split("@")[0] if described else data_name(data), options.get("tier")
        searching = cleared_search(self.store, source, declared, options.get("experiment", "default"), clear=clear)
        plan = plan_sweep(
            prompts, models, data, options, retrieval_cache=retrieval_folder(self.store.path), before_search=searching
        )
        return tiered(self.store, replace(plan, data=described) if described else plan, source, declared, clear=clear)
