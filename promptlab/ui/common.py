"""Small pieces every part of the widget app shares: HTML snippets, error
messages next to controls, closing widgets, and a background ticker."""

from __future__ import annotations

import atexit
import html
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard

import ipywidgets as widgets  # type: ignore[import-untyped]
import numpy as np
import pandas as pd

from promptlab.core.prompt import template_text
from promptlab.errors import PromptlabError

RED = "#c0392b"
MUTED = "#777"
MONO = "font-family:var(--jp-code-font-family, monospace);font-size:12px"
FITS = {"description_width": "initial"}
"""A widget style: the description as wide as its words (the default width cuts "experiment")."""
STATUS_COLOURS = {
    "done": "#2e7d32",
    "running": "#1565c0",
    "cancelled": "#ef6c00",
    "interrupted": "#ef6c00",
    "failed": RED,
}
STATUS_HINTS = {
    "interrupted": "its process died before it ended (a crash, a kernel restart); "
    "whoever ran it can run the same sweep again to resume it",
}
"""What a run's status means, where it needs saying."""


def present(value: Any) -> TypeGuard[Any]:
    """False for None, NaN, NaT and ``pd.NA`` (a missing value, whatever pandas made of it)."""
    if value is None:
        return False
    if isinstance(value, (list, tuple, dict, set, np.ndarray)):
        return True  # a collection is a value, even when empty
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):
        return True


def listed(value: Any) -> list[str]:
    """A list column's value as a list of text: DuckDB lists arrive as arrays,
    JSON ones as lists, and a run with no trials yet has ``<NA>`` (none)."""
    if isinstance(value, str):
        return [value]
    if not present(value):
        return []
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [str(v) for v in value if present(v)]
    return [str(value)]


def escape(value: Any) -> str:
    """``value`` as text safe to put in HTML."""
    return html.escape("" if value is None else str(value))


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters (with an ellipsis), and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[: max(limit - 1, 0)].rstrip() + "…", True


def block(text: str, *, color: str | None = None) -> str:
    """Text in a wrapping monospace block."""
    tint = f"color:{color};" if color else ""
    return f'<div style="white-space:pre-wrap;word-break:break-word;{MONO};{tint}">{escape(text)}</div>'


def messages_text(messages: Any) -> str:
    """Rendered chat messages as ``[role]`` blocks."""
    if not isinstance(messages, list):
        return "" if messages is None else str(messages)
    return template_text(messages)


def error_html(message: str | None) -> str:
    """A red message (empty when there is none)."""
    if not message:
        return ""
    return f'<span style="color:{RED}">⚠ {escape(message)}</span>'


def status_html(status: Any) -> str:
    """A run's status in its colour, with what it means as a tooltip where that needs saying."""
    text = str(status)
    hint = STATUS_HINTS.get(text)
    tooltip = f' title="{escape(hint)}"' if hint else ""
    return f'<span style="color:{STATUS_COLOURS.get(text, "#555")}"{tooltip}>{escape(text)}</span>'


def muted(text: str) -> str:
    """Grey small print."""
    return f'<span style="color:{MUTED};font-size:12px">{escape(text)}</span>'


def error_label() -> widgets.HTML:
    """An HTML widget for a field's error message."""
    return widgets.HTML("", layout=widgets.Layout(margin="0 0 0 4px"))


def show_error(target: widgets.HTML, error: BaseException | str | None) -> None:
    """Put ``error``'s message (or nothing) into ``target``."""
    target.value = error_html(str(error) if error is not None else None)


def catching(target: widgets.HTML, action: Callable[[], Any]) -> Any:
    """Run ``action``; a ``PromptlabError`` is shown in ``target`` instead of raised.

    Clears ``target`` on success; returns what ``action`` returned, or None.
    """
    try:
        result = action()
    except PromptlabError as exc:
        show_error(target, exc)
        return None
    show_error(target, None)
    return result


def button(
    description: str, tooltip: str = "", *, width: str | None = None, style: str = "", icon: str = ""
) -> widgets.Button:
    """A compact button that keeps its width in a crowded row. ``icon``: a Font Awesome
    name (``thumbs-up``), which JupyterLab ships: emoji show as boxes where no emoji font is installed."""
    layout = widgets.Layout(width=width or "auto", flex="0 0 auto")
    return widgets.Button(
        description=description, tooltip=tooltip or description, layout=layout, button_style=style, icon=icon
    )


def set_options(control: widgets.Dropdown, options: list[Any], keep: Any = None) -> None:
    """New ``options`` for a dropdown, selecting the one whose value is ``keep``,
    else the first. The index is sent again even when its number didn't change:
    the browser redraws the list and would otherwise show nothing selected."""
    values = [option[1] if isinstance(option, tuple) else option for option in options]
    with control.hold_sync():
        control.options = options
        control.index = values.index(keep) if keep in values else (0 if values else None)
    control.send_state("index")


def close_tree(widget: Any) -> None:
    """Close ``widget``, every widget inside it and their layouts and styles,
    so the kernel forgets them (ipywidgets keeps every open widget alive)."""
    for child in getattr(widget, "children", ()) or ():
        close_tree(child)
    if isinstance(widget, widgets.Widget):
        for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
            if isinstance(part, widgets.Widget):
                part.close()
        widget.close()


def replace_children(box: widgets.Box, children: Iterable[widgets.Widget]) -> None:
    """Swap ``box``'s children, closing the old ones that are not kept."""
    new = tuple(children)
    old = box.children
    box.children = new
    kept = {id(child) for child in new}
    for child in old:
        if id(child) not in kept:
            close_tree(child)


def notebook_namespace() -> dict[str, Any] | None:
    """The running IPython's user namespace, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.user_ns


def guarded(action: Callable[[], None], on_error: Callable[[Exception], None] | None) -> None:
    """Run ``action`` on a background thread: an error goes to ``on_error`` (so it
    can be shown) instead of ending the thread, which nobody would see."""
    try:
        action()
    except Exception as exc:  # any error: the thread must live on to try again
        if on_error is not None:
            on_error(exc)


SHUTTING_DOWN = threading.Event()
"""Set when the interpreter exits: background refreshes stop querying."""

_TICKERS: weakref.WeakSet[Ticker] = weakref.WeakSet()


@atexit.register
def _stop_background_threads() -> None:
    # A daemon thread killed inside a DuckDB query at exit aborts the process.
    SHUTTING_DOWN.set()
    for ticker in list(_TICKERS):
        ticker.stop()
        ticker.join(5)


class Ticker:
    """Calls ``tick`` every ``every`` seconds on a daemon thread until stopped.

    Used for auto-refresh, so the kernel is never blocked waiting. A tick
    that raises is reported to ``on_error`` and the next tick runs anyway.
    """

    def __init__(
        self,
        tick: Callable[[], None],
        every: float,
        name: str = "promptlab-ui",
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._tick = tick
        self.on_error = on_error
        self.every = every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        _TICKERS.add(self)
        self._thread.start()

    def _main(self) -> None:
        while not self._stopped.wait(self.every) and not SHUTTING_DOWN.is_set():
            guarded(self._tick, self.on_error)

    @property
    def running(self) -> bool:
        """True until ``stop`` is called."""
        return not self._stopped.is_set()

    def stop(self) -> None:
        """Stop after the current tick (if any)."""
        self._stopped.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (call ``stop`` first); a no-op from the thread itself."""
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


class Background:
    """Runs reads on a thread of their own, so what is shown above them doesn't
    wait: ``start(action)`` runs ``action`` there, after the one running (if
    any); of several asked for meanwhile, only the newest runs (the others are
    out of date). An error goes to ``on_error``. Not a daemon: a read is never
    killed mid-query at exit (see ``SHUTTING_DOWN``)."""

    def __init__(self, name: str, on_error: Callable[[Exception], None] | None = None) -> None:
        self.name = name
        self.on_error = on_error
        self._lock = threading.Lock()
        self._next: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def start(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the thread, in place of any not started yet."""
        with self._lock:
            self._next = action
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name=self.name)
                self._thread.start()

    def _main(self) -> None:
        while True:
            with self._lock:
                action, self._next = self._next, None
                if action is None or SHUTTING_DOWN.is_set():
                    self._thread = None
                    self._idle.set()
                    return
            guarded(action, self.on_error)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until nothing is running or asked for; False if ``timeout`` came first."""
        return self._idle.wait(timeout)


def version_tag(version: Any, number: Any = None) -> str:
    """``v2 · 1828dd5e``: a prompt version as people name it, its number
    (``lab.prompt_versions()["number"]``) beside the start of its hash; the
    hash alone when the number isn't known."""
    short = str(version)[:8]
    return f"v{int(number)} · {short}" if present(number) else short
