"""The inputs of a sweep: a DataFrame from the notebook, a file under
``experiments/``, or rows typed into a small grid."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab.core.rows import Data, load_rows
from promptlab.errors import DataError
from promptlab.ui.arguments import data_files, table_columns
from promptlab.ui.common import button, error_label, escape, muted, replace_children, show_error

SOURCES = (("DataFrame", "frame"), ("file", "file"), ("type rows", "typed"))


def namespace_frames(namespace: Mapping[str, Any] | None) -> list[tuple[str, pd.DataFrame]]:
    """``(name, DataFrame)`` for every public DataFrame variable in ``namespace``."""
    if not namespace:
        return []
    found = [(n, v) for n, v in namespace.items() if isinstance(v, pd.DataFrame) and not n.startswith("_")]
    return [(f"{name} ({len(frame)} rows)", frame) for name, frame in sorted(found, key=lambda item: item[0])]


@functools.lru_cache(maxsize=16)
def _file_shape(path: str, modified_ns: int, size: int) -> tuple[int, tuple[str, ...]]:
    rows = load_rows(path)
    return len(rows), tuple(table_columns(rows))


def file_shape(path: str) -> tuple[int, list[str]]:
    """Rows and shared columns of a data file (read once per version of the file)."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise DataError(f"data file {path} can't be read: {exc.strerror}") from exc
    n_rows, columns = _file_shape(str(path), stat.st_mtime_ns, stat.st_size)
    return n_rows, list(columns)


class TypedRows(widgets.VBox):
    """A small editable grid: column names on top, a Text per cell."""

    def __init__(
        self,
        columns: Sequence[str] = ("text",),
        n_rows: int = 3,
        on_change: Callable[[], None] | None = None,
        wanted_columns: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self.on_change = on_change
        self.header = widgets.HBox()
        self.body = widgets.VBox()
        self.add_row = button("+ row", "add an input row")
        self.add_column = button("+ column", "add a column (a template variable)")
        self.add_wanted = button("+ columns the prompts use", "add a column for each template variable")
        self.add_row.on_click(lambda _: self._append_row())
        self.add_column.on_click(lambda _: self.ensure_columns([self._free_name()]))
        self.add_wanted.on_click(lambda _: self.ensure_columns(wanted_columns() if wanted_columns else []))
        self.add_wanted.layout.display = None if wanted_columns else "none"
        for name in columns:
            self._append_column(name, notify=False)
        for _ in range(n_rows):
            self._append_row(notify=False)
        super().__init__([self.header, self.body, widgets.HBox([self.add_row, self.add_column, self.add_wanted])])

    def _changed(self, _: Any = None) -> None:
        if self.on_change is not None:
            self.on_change()

    def _cell(self, value: str = "", placeholder: str = "") -> widgets.Text:
        cell = widgets.Text(value=value, placeholder=placeholder, layout=widgets.Layout(width="200px"))
        cell.observe(self._changed, "value")
        return cell

    def _free_name(self) -> str:
        taken = set(self.column_names())
        return next(f"column_{i}" for i in range(1, len(taken) + 2) if f"column_{i}" not in taken)

    def _append_column(self, name: str, *, notify: bool = True) -> None:
        self.header.children = [*self.header.children, self._cell(name, "column name")]
        for row in self.body.children:
            row.children = [*row.children, self._cell()]
        if notify:
            self._changed()

    def _append_row(self, values: Sequence[str] = (), *, notify: bool = True) -> None:
        n = len(self.header.children)
        padded = [*values, *[""] * (n - len(values))][:n]
        self.body.children = [*self.body.children, widgets.HBox([self._cell(str(v)) for v in padded])]
        if notify:
            self._changed()

    def column_names(self) -> list[str]:
        """The column names as typed (blank ones included)."""
        return [str(cell.value).strip() for cell in self.header.children]

    def ensure_columns(self, names: Sequence[str]) -> None:
        """Add a column for each of ``names`` not there yet."""
        for name in names:
            if name not in self.column_names():
                self._append_column(name, notify=False)
        self._changed()

    def set_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Replace the grid with ``rows`` (their keys become the columns)."""
        columns = list(dict.fromkeys(str(k) for row in rows for k in row)) or ["text"]
        replace_children(self.header, [self._cell(c, "column name") for c in columns])
        replace_children(self.body, [])
        for row in rows:
            self._append_row([str(row.get(c, "")) for c in columns], notify=False)
        self._changed()

    def rows(self) -> list[dict[str, str]]:
        """The rows that have any text, keyed by the named columns."""
        names = self.column_names()
        rows = []
        for row in self.body.children:
            values = [str(cell.value) for cell in row.children]
            if any(v.strip() for v in values):
                rows.append({name: value for name, value in zip(names, values, strict=False) if name})
        return rows

    def problem(self) -> str | None:
        """Duplicate column names, or None."""
        names = [n for n in self.column_names() if n]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        return f"column {duplicated[0]!r} appears twice; rename one" if duplicated else None


class DataPicker(widgets.VBox):
    """Where a sweep's rows come from."""

    def __init__(
        self,
        namespace: Mapping[str, Any] | None = None,
        on_change: Callable[[], None] | None = None,
        wanted_columns: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self.on_change = on_change
        self.namespace = namespace
        self.problem: str | None = None
        """What is wrong with the data picked, as of the last ``check()``."""
        self.frame = widgets.Dropdown(
            description="DataFrame",
            options=[],
            style={"description_width": "initial"},
            layout=widgets.Layout(width="420px"),
            equals=lambda a, b: a is b,
        )  # a DataFrame has no plain ==
        self.file = widgets.Dropdown(
            description="file", options=[], style={"description_width": "initial"}, layout=widgets.Layout(width="420px")
        )
        self.rescan_button = button("Rescan", "look again for DataFrames in the notebook and files in experiments/")
        self.typed = TypedRows(on_change=self._changed, wanted_columns=wanted_columns)
        self.source = widgets.ToggleButtons(options=list(SOURCES), value="typed")
        self.preview = widgets.HTML()
        self.error = error_label()
        self.pane = widgets.VBox()
        self.rescan()
        self.source.value = "frame" if self.frame.options else "file" if self.file.options else "typed"
        self._show_pane()
        for control in (self.frame, self.file):
            control.observe(self._changed, "value")
        self.source.observe(self._source_changed, "value")
        self.rescan_button.on_click(lambda _: self.rescan())
        super().__init__([widgets.HBox([self.source, self.rescan_button]), self.pane, self.preview, self.error])

    def _changed(self, _: Any = None) -> None:
        if self.on_change is not None:
            self.on_change()

    def _source_changed(self, _: Any) -> None:
        self._show_pane()
        self._changed()

    def _show_pane(self) -> None:
        panes = {"frame": self.frame, "file": self.file, "typed": self.typed}
        self.pane.children = [panes[self.source.value]]

    def rescan(self) -> None:
        """Look again for DataFrames in the namespace and files under ``experiments/``."""
        kept = [(label, value) for label, value in self.frame.options if label.startswith("rows of run")]
        current = self.frame.value
        self.frame.options = namespace_frames(self.namespace) + kept
        self._select_frame(current)
        chosen = self.file.value
        files = data_files()
        self.file.options = files + ([chosen] if chosen and chosen not in files else [])
        if chosen in self.file.options:
            self.file.value = chosen
        elif self.file.options:
            self.file.index = 0

    def set_data(self, data: Data, label: str = "loaded rows") -> None:
        """Pick ``data``: a path selects that file, rows or a DataFrame become an option named ``label``."""
        if isinstance(data, (str, os.PathLike)):
            path = str(data)
            if path not in self.file.options:
                self.file.options = [*self.file.options, path]
            self.file.value = path
            self.source.value = "file"
            return
        frame = data if isinstance(data, pd.DataFrame) else list(data)
        options = [(lbl, value) for lbl, value in self.frame.options if lbl != label]
        self.frame.options = [*options, (label, frame)]
        self._select_frame(frame)
        self.source.value = "frame"

    def _select_frame(self, wanted: Any) -> None:
        # By position: Dropdown.value= compares with ==, which a DataFrame turns into a table of booleans.
        found = [i for i, (_, value) in enumerate(self.frame.options) if value is wanted]
        if found:
            self.frame.index = found[0]
        elif self.frame.options and self.frame.index is None:
            self.frame.index = 0

    def data(self) -> Data:
        """The rows picked: a path, a DataFrame, or a list of dicts. Raises DataError when none."""
        source = self.source.value
        if source == "frame":
            if self.frame.value is None:
                raise DataError("no DataFrame found in the notebook: create one, then press Rescan")
            frame: pd.DataFrame | list[dict[str, Any]] = self.frame.value
            return frame
        if source == "file":
            if not self.file.value:
                raise DataError("no data file under experiments/ (jsonl, csv, parquet); pick another source")
            return str(self.file.value)
        problem = self.typed.problem()
        if problem:
            raise DataError(problem)
        rows = self.typed.rows()
        if not rows:
            raise DataError("type at least one input row")
        return rows

    def shape(self) -> tuple[int, list[str]]:
        """Rows and the columns every row has, for the data picked. Raises DataError."""
        data = self.data()
        if isinstance(data, (str, os.PathLike)):
            return file_shape(str(data))
        return len(data), table_columns(data)

    def check(self, *, show: bool = True) -> tuple[int, list[str]] | None:
        """Rows and columns of the data (shown under it), or None with ``problem``
        shown (unless ``show=False``)."""
        try:
            n_rows, columns = self.shape()
            if n_rows == 0:
                raise DataError("the data has no rows")
        except DataError as exc:
            self.problem = str(exc)
            show_error(self.error, exc if show else None)
            self.preview.value = ""
            return None
        self.problem = None
        show_error(self.error, None)
        names = ", ".join(escape(c) for c in columns) or "none"
        self.preview.value = muted(f"{n_rows} rows · columns: ") + f'<span style="font-size:12px">{names}</span>'
        return n_rows, columns
