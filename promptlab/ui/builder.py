"""The sweep builder: prompt variants, models, parameters, data, retrievers
(optional), evaluators and options, checked as they are typed, then run in
the background, watched live, and its cost shown once it ends.

Its state becomes ``lab.start`` arguments through one plain method,
``SweepBuilder.sweep_arguments()``, which a notebook can call without clicking.
What is wrong is shown beside each field once the user has typed something or
pressed Run: a new builder is not a page of red.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab import SweepOptions, evals
from promptlab.core.model import Model
from promptlab.errors import ConfigError, PromptlabError
from promptlab.runner.record import merged_tags
from promptlab.ui.arguments import (
    SweepArguments,
    sweep_arguments_from_run,
)
from promptlab.ui.common import (
    FITS,
    button,
    catching,
    error_html,
    error_label,
    escape,
    muted,
    notebook_namespace,
    replace_children,
    show_error,
)
from promptlab.ui.data_picker import DataPicker
from promptlab.ui.evaluator_picker import EvaluatorPicker
from promptlab.ui.experiment_fields import ExperimentFields
from promptlab.ui.model_picker import ModelPicker, models_used, offered_models
from promptlab.ui.param_fields import ParamFields
from promptlab.ui.prompt_editor import PromptEditor
from promptlab.ui.retrieval_step import RetrievalStep
from promptlab.ui.run_panel import RunPanel

if TYPE_CHECKING:
    from promptlab import Lab, SweepHandle
    from promptlab.ui.progress import SweepWatch

AUTO_ESTIMATE_CELLS = 2000
"""Sweeps up to this size are priced as they are edited; bigger ones on request."""

UNTOUCHED = "write a prompt variant, pick a model and some data, then Run"
"""The size line of a builder nobody has typed in yet."""


def _section(title: str) -> widgets.HTML:
    return widgets.HTML(f'<h4 style="margin:10px 0 4px 0">{escape(title)}</h4>')


class SweepBuilder(widgets.VBox):
    """Build a sweep, see what it will cost, run it, watch it, stop it.

    ``models`` are offered ticked, next to the embedded ones and those used
    recently in ``lab``. ``namespace`` is where DataFrames are looked for
    (default: the notebook's variables). ``on_start`` gets each sweep's handle
    as it starts; ``on_run_started`` its run id once known (about a second later).
    """

    def __init__(
        self,
        lab: Lab,
        *,
        models: Sequence[Model] = (),
        namespace: Mapping[str, Any] | None = None,
        on_start: Callable[[SweepHandle], None] | None = None,
        on_run_started: Callable[[str], None] | None = None,
    ) -> None:
        self.lab = lab
        self._loading = False
        self.touched = False
        """Whether the user has typed or pressed Run: only then are problems shown."""
        self.prompts = widgets.VBox(layout=widgets.Layout(width="100%"))
        self.add_prompt = button("+ prompt variant", "add an empty prompt variant")
        self.add_prompt.on_click(lambda _: self.add_variant())
        self.models = ModelPicker(offered_models(models, used=models_used(lab)), on_change=self._edited)
        self.param_fields = ParamFields(on_change=self._edited)
        fields = self.param_fields
        self.temperature, self.max_tokens, self.seed = fields.temperature, fields.max_tokens, fields.seed
        self.other_params, self.params_error = fields.other, fields.error
        ns = namespace if namespace is not None else notebook_namespace()
        self.data = DataPicker(ns, on_change=self._edited, wanted_columns=self.variables)
        self.retrieval = RetrievalStep(on_change=self._edited, models=self.models.offered)
        self.evaluators = EvaluatorPicker(on_change=self._edited)
        self.repeats = widgets.BoundedIntText(value=1, min=1, max=1000, description="repeats", style=FITS)
        self.concurrency = widgets.BoundedIntText(value=8, min=1, max=256, description="concurrency", style=FITS)
        self.cache = widgets.Checkbox(value=True, description="reuse answers already in the history", indent=False)
        self.experiment_fields = ExperimentFields(lab, on_change=self._edited)
        self.experiment, self.tags = self.experiment_fields.name, self.experiment_fields.tags
        self.options_error = error_label()
        self.size = widgets.HTML()
        self.estimate_button = button("Estimate cost", "count tokens and price the calls this sweep would make")
        self.note = widgets.HTML()
        self.runner = RunPanel(
            lab, self.sweep_arguments, on_start=on_start, on_run_started=on_run_started, on_end=self._run_ended
        )
        self.run_button, self.stop_button = self.runner.run_button, self.runner.stop_button
        self.run_error, self.display, self.results = self.runner.error, self.runner.display, self.runner.results
        self.estimate_button.on_click(lambda _: self.estimate())
        for control in (self.repeats, self.cache, self.concurrency):
            control.observe(lambda _: self._edited(), "value")
        self.add_variant(refresh=False)
        super().__init__(
            [
                _section("Prompt variants"),
                self.prompts,
                self.add_prompt,
                _section("Models and parameters"),
                self.models,
                self.param_fields,
                _section("Data"),
                self.data,
                _section("Retrieval (optional)"),
                self.retrieval,
                _section("Evaluators"),
                self.evaluators,
                _section("Run"),
                self.experiment_fields,
                widgets.HBox([self.repeats, self.concurrency, self.cache]),
                self.options_error,
                widgets.HBox([self.size, self.estimate_button]),
                self.note,
                self.runner,
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.refresh()

    # -- prompt variants -------------------------------------------------------------

    def editors(self) -> list[PromptEditor]:
        """The prompt variant editors, in order."""
        return list(self.prompts.children)

    def add_variant(
        self, name: str | None = None, messages: Sequence[Mapping[str, str]] | None = None, *, refresh: bool = True
    ) -> PromptEditor:
        """Add a prompt variant editor (empty unless ``messages`` are given)."""
        taken = {editor.name.value for editor in self.editors()}
        name = name or next(f"prompt-{i}" for i in range(1, len(taken) + 2) if f"prompt-{i}" not in taken)
        editor = PromptEditor(name, messages) if messages else PromptEditor(name)
        editor.on_change = self._edited
        editor.duplicate.on_click(lambda _: self.duplicate_variant(editor))
        editor.remove.on_click(lambda _: self.remove_variant(editor))
        self.prompts.children = [*self.prompts.children, editor]
        if refresh:
            self.refresh()
        return editor

    def duplicate_variant(self, editor: PromptEditor) -> PromptEditor:
        """Add a copy of ``editor``'s variant (named ``<name>-copy``) right after it."""
        copy = self.add_variant(f"{editor.name.value}-copy", editor.rows_as_typed() or None, refresh=False)
        others = [e for e in self.editors() if e is not copy]
        at = others.index(editor) + 1
        self.prompts.children = [*others[:at], copy, *others[at:]]
        self.refresh()
        return copy

    def remove_variant(self, editor: PromptEditor) -> None:
        """Drop a variant."""
        replace_children(self.prompts, [e for e in self.editors() if e is not editor])
        self.refresh()

    def variables(self) -> list[str]:
        """Every template variable the variants use (but those the retrievers fill in)."""
        found: set[str] = set()
        for editor in self.editors():
            try:
                found |= editor.prompt().variables
            except ConfigError:
                continue
        return sorted(found - set(self.retrieval.prompt_columns([])))

    # -- checking ---------------------------------------------------------------------

    def params(self) -> dict[str, list[Any]]:
        """The parameter grid typed in (raises ConfigError naming the field)."""
        return self.param_fields.params()

    def _run_options(self) -> SweepOptions:
        return {
            "params": self.params(),
            "repeats": int(self.repeats.value),
            **self.experiment_fields.options(),
            "concurrency": int(self.concurrency.value),
            "cache": bool(self.cache.value),
        }

    def options(self) -> SweepOptions:
        """Everything ``lab.start`` takes besides prompts, models and data (raises ConfigError):
        blank tags are ``tags=None`` (left as they are), tags deleted from the experiment's
        are ``remove_tags``, and ``evaluators`` come when any are picked."""
        options = self._run_options()
        evaluators = self.evaluators.evaluators()
        if evaluators:
            options["evaluators"] = evaluators
        if self.retrieval.active:
            options["retrievers"] = self.retrieval.retrievers()
        return options

    def check(self) -> dict[str, str]:
        """What stops the sweep from running, by field; each problem is shown beside its field."""
        self.touched = True
        return self._check()[0]

    def _check(self, show: bool = True) -> tuple[dict[str, str], int]:
        problems: dict[str, str] = {}
        shape = self.data.check(show=show)
        if shape is None:
            problems["data"] = self.data.problem or "pick some data"
        columns = shape[1] if shape else None
        for i, editor in enumerate(self.editors(), start=1):
            problem = editor.check(self.retrieval.prompt_columns(columns) if columns is not None else None, show=show)
            if problem:
                problems[f"prompt {i}"] = problem
        if not self.editors():
            problems["prompts"] = "add a prompt variant"
        for key, problem in (
            ("models", self.models.check(show=show)),
            ("params", self.param_fields.check(show=show)),
            ("retrieval", self.retrieval.check(columns, show=show)),
            ("evaluators", self._check_evaluators(columns, show)),
        ):
            if problem:
                problems[key] = problem
        try:
            self._run_options()
        except ConfigError as exc:
            problems["options"] = str(exc)
            show_error(self.options_error, exc if show else None)
        else:
            show_error(self.options_error, None)
        return problems, shape[0] if shape else 0

    def _check_evaluators(self, columns: list[str] | None, show: bool) -> str | None:
        self.evaluators.offer(columns, self.models.offered())
        return self.evaluators.check(columns, show=show)

    def _arguments(self) -> SweepArguments:
        prompts = [editor.prompt() for editor in self.editors()]
        return SweepArguments(prompts, self.models.selected(), self.data.data(), self.options())

    def sweep_arguments(self) -> SweepArguments:
        """The ``lab.start`` arguments this builder describes; raises ConfigError when it can't run."""
        self.touched = True
        problems, _ = self._check()
        if problems:
            field, problem = next(iter(problems.items()))
            raise ConfigError(f"{field}: {problem}")
        return self._arguments()

    def _edited(self) -> None:
        self.touched = True
        self.refresh()

    def _run_ended(self) -> None:
        # What is priced now is running it again (mostly from the cache), not the run that ended: say so.
        self.refresh()
        if not self.run_button.disabled:
            self.size.value = muted("Running it again: ") + self.size.value

    def refresh(self) -> None:
        """Check everything again, show the sweep's size (and price, when small), enable Run."""
        if self._loading:
            return
        problems, n_rows = self._check(show=self.touched)
        self.run_button.disabled = bool(problems) or self.runner.running
        if problems and not self.touched:
            self.size.value = muted(UNTOUCHED)
            return
        if problems:
            count = len(problems)
            self.size.value = muted(f"{count} thing{'s' if count > 1 else ''} to fix before running (see above)")
            return
        arguments = self._arguments()
        cells = arguments.cell_count(n_rows)
        if cells <= AUTO_ESTIMATE_CELLS and not self.retrieval.embeds():  # embedding a corpus is on request
            self.estimate(arguments)
        else:
            self.size.value = f"<b>{cells:,} cells</b> " + muted("· Estimate cost counts tokens and prices them")

    def estimate(self, arguments: SweepArguments | None = None) -> str | None:
        """Price the sweep with ``lab.estimate`` and show it; None when it can't be priced."""
        args = arguments or catching(self.run_error, self.sweep_arguments)
        if args is None:
            return None
        try:
            found = self.lab.estimate(args.prompts, args.models, args.data, **args.options)
        except PromptlabError as exc:
            self.size.value = error_html(str(exc))
            self.run_button.disabled = True
            return None
        text = str(found)
        self.size.value = escape(text)
        return text

    # -- running ---------------------------------------------------------------------

    @property
    def handle(self) -> SweepHandle | None:
        """The latest sweep started from this builder."""
        return self.runner.handle

    @property
    def watch(self) -> SweepWatch | None:
        """The thread following that sweep."""
        return self.runner.watch

    def run(self) -> SweepHandle | None:
        """Start the sweep in the background (``lab.start``) and watch it; None when it can't start."""
        return self.runner.run()

    def stop(self) -> None:
        """Stop the running sweep; finished trials are kept."""
        self.runner.stop()

    # -- loading -----------------------------------------------------------------------

    def load(self, arguments: SweepArguments, data_label: str = "loaded rows") -> None:
        """Fill the builder from ``arguments`` (e.g. a past run's), to re-run or fork it."""
        self._loading = True
        try:
            replace_children(self.prompts, [])
            for prompt in arguments.prompts:
                self.add_variant(prompt.name, refresh=False).set_prompt(prompt)
            self.models.select(arguments.models)
            options = arguments.options
            self.param_fields.set_params(options.get("params") or {})
            self.data.set_data(arguments.data, data_label)
            self.repeats.value = int(options.get("repeats", 1))
            self.concurrency.value = int(options.get("concurrency", 8))
            self.cache.value = bool(options.get("cache", True))
            self.experiment.value = options.get("experiment", "playground")
            known = self.experiment_fields.known
            self.tags.value = ", ".join(merged_tags(known, options.get("tags"), options.get("remove_tags")))
            self.evaluators.set_evaluators(evals.coerce(options.get("evaluators")))
            self.retrieval.restore([*arguments.retrievers, *(s.to_dict() for s in options.get("retrievers") or ())])
        finally:
            self._loading = False
        self.touched = True
        self.note.value = muted(arguments.note) if arguments.note else ""
        self.refresh()

    def load_run(self, run_id: str) -> SweepArguments | None:
        """Load a recorded run's prompts, models, parameters, data, evaluators and options."""
        arguments = catching(self.run_error, lambda: sweep_arguments_from_run(self.lab, run_id))
        if arguments is not None:
            rows = "" if isinstance(arguments.data, str) else f" ({len(arguments.data)} rows)"
            self.load(arguments, data_label=f"rows of run {run_id[:8]}{rows}")
        return arguments

    def __repr__(self) -> str:
        prompts, models = len(self.editors()), len(self.models.selected())
        return f"SweepBuilder({prompts} prompt variant{'s' * (prompts != 1)}, {models} model{'s' * (models != 1)})"


def builder(lab: Lab, *, models: Sequence[Model] = (), namespace: Mapping[str, Any] | None = None) -> SweepBuilder:
    """The sweep builder on its own (``playground`` has it as its first tab)."""
    return SweepBuilder(lab, models=models, namespace=namespace)
