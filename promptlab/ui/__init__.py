"""The widget app: ipywidgets adapters over the library's public functions.

``playground(lab)`` is the whole app (also ``lab.ui()``); each part works
alone: ``builder(lab)``, ``results(run_or_trials, lab=...)``,
``history(lab)``, ``review(run, lab=...)``, ``registry(lab)``, ``monitor(lab)``. Widgets hold no SQL and make no
model calls; every button calls a public function (of ``Lab``, or a plain
function here) that a notebook can call without the UI.
"""

from promptlab.ui.app import Playground, playground
from promptlab.ui.arguments import SweepArguments, sweep_arguments_from_run
from promptlab.ui.builder import SweepBuilder, builder
from promptlab.ui.history import HistoryBrowser, history
from promptlab.ui.monitor import MonitorView, monitor
from promptlab.ui.progress import WidgetDisplay
from promptlab.ui.registry import RegistryPanel, registry
from promptlab.ui.results import ResultsGrid, results
from promptlab.ui.review import ReviewPanel, review

__all__ = [
    "HistoryBrowser",
    "MonitorView",
    "Playground",
    "RegistryPanel",
    "ResultsGrid",
    "ReviewPanel",
    "SweepArguments",
    "SweepBuilder",
    "WidgetDisplay",
    "builder",
    "history",
    "monitor",
    "playground",
    "registry",
    "results",
    "review",
    "sweep_arguments_from_run",
]
