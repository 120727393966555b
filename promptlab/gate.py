"""The regression gate: does a candidate prompt hold up against the labelled one?

``check`` runs the candidate and the baseline (the version a label points
at) on the same data with the same evaluators, in one recorded run (the
cache makes unchanged work free), pairs them by input and applies the
paired comparison. From pytest: ``assert pl.check(...)`` fails with the
readable table; from CI, ``promptlab check ...`` exits 0 (pass), 1 (the
candidate failed a rule) or 2 (setup error).

The rules, each a JUnit test case (``CheckResult.junit_xml``):

- ``errors``: at most ``max_errors`` (default 0) candidate cells may fail,
  a failed call or an output the metric's evaluator couldn't score; and
  never every one of them.
- ``compared``: at least one input has a score for both prompts.
- ``regression`` (on unless ``allow_regression``): the candidate must not be
  clearly worse, by the same test as ``lab.compare``'s verdict: the sign test
  (p < 0.05) and the 95% bootstrap interval of the difference (all of it
  below 0) agree. It applies with and without thresholds: ``max_drop``
  bounds how large an observed drop may be, the rule asks whether a drop is
  real, and a real drop is a regression however small (turn the rule off
  when a small, real drop is the price of a change you want).
- ``min_score`` and ``max_drop`` when given.

The metric is compared as its evaluator declares (``evals.Meaning``): a check
on how often it passes, a score in its direction. A failed candidate cell
fails the check, or scores the metric's worst value (0 for 0–1 evaluators)
in the comparison. Dropping it would compare the
candidate on the inputs it survived: a prompt that breaks on the hard half of
the data would look as good as one that answers them all.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from promptlab import evals
from promptlab.analysis.columns import PASSED_PREFIX, SCORE_PREFIX, score_columns
from promptlab.analysis.stats import ALPHA, Comparison, compare
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.core.rows import Data
from promptlab.errors import ConfigError
from promptlab.lab import Lab, default_db_path
from promptlab.providers.endpoints import check_endpoints
from promptlab.release.junit import check_junit
from promptlab.release.prompt_files import read_prompt_file

RULES = ("errors", "compared", "regression", "min_score", "max_drop")
"""The gate's rules, in the order they are checked and reported."""


@dataclass(frozen=True)
class CheckResult:
    """The gate's verdict. True when it passed; its repr is the readable table."""

    prompt: str
    """The prompt name."""

    against: str
    """The label the baseline came from."""

    candidate: str
    """The candidate's version."""

    baseline: str
    """The baseline's version."""

    metric: str
    """The evaluator compared on."""

    comparison: Comparison
    """The paired comparison (A = baseline, B = candidate; failed candidate cells score the worst value)."""

    min_score: float | None
    """The lowest mean score the candidate may have."""

    max_drop: float | None
    """How far below the baseline the candidate may fall."""

    run_id: str
    """The run that recorded both."""

    errors: int
    """Candidate calls that failed."""

    failures: tuple[str, ...]
    """Why it failed (empty when it passed)."""

    failed_rules: tuple[str, ...] = ()
    """The rule (one of ``RULES``) behind each of ``failures``, in the same order."""

    unscored: int = 0
    """Candidate calls that answered but that the metric's evaluator couldn't score."""

    cells: int = 0
    """Candidate cells run."""

    baseline_errors: int = 0
    """Baseline cells with no score (their inputs are left out of the comparison)."""

    max_errors: int = 0
    """How many candidate cells may fail (failed calls plus unscored outputs)."""

    allow_regression: bool = False
    """True when the regression rule was turned off."""

    @property
    def passed(self) -> bool:
        """True when every rule held."""
        return not self.failures

    def __bool__(self) -> bool:
        return self.passed

    def table(self) -> str:
        """The result as a small text table."""
        c = self.comparison
        scored_as = " (failed cells score the worst value)" if self.errors + self.unscored else ""
        measure = "pass rate" if c.on == "passed" else "mean"
        rows = [
            ("prompt", self.prompt),
            (f"baseline ({self.against})", f"{self.baseline}  {measure} {self.metric} = {c.mean_a:.3f}"),
            ("candidate", f"{self.candidate}  {measure} {self.metric} = {c.mean_b:.3f}{scored_as}"),
            ("difference", f"{c.difference:+.3f}  (95% CI {c.ci_low:+.3f} to {c.ci_high:+.3f}, n={c.n})"),
            ("wins / losses / ties", f"{c.wins} / {c.losses} / {c.ties}  (sign test p={c.p_value:.3g})"),
            ("candidate errors", self._errors_text()),
            ("baseline errors", str(self.baseline_errors)),
            (
                "regression rule",
                "off (allow_regression)"
                if self.allow_regression
                else f"fail when clearly worse (sign test p<{ALPHA} and the 95% CI agree)",
            ),
            ("min score", "—" if self.min_score is None else f"{self.min_score}"),
            ("max drop", "—" if self.max_drop is None else f"{self.max_drop}"),
            ("run", self.run_id),
            *((("result" if i == 0 else ""), f"FAIL: {failure}") for i, failure in enumerate(self.failures)),
        ]
        if self.passed:
            rows.append(("result", "PASS"))
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

    def _errors_text(self) -> str:
        failed = self.errors + self.unscored
        parts = f": {self.errors} calls failed, {self.unscored} not scored" if failed else ""
        return f"{failed} of {self.cells}{parts}  (max errors {self.max_errors})"

    def __repr__(self) -> str:
        return self.table()

    def assert_passed(self) -> None:
        """Raise ``AssertionError`` with the table unless it passed."""
        if not self.passed:
            raise AssertionError(self.table())

    def junit_xml(self) -> str:
        """The result as JUnit XML (one test case per rule; rules not asked for are skipped) for CI dashboards."""
        unset = {
            "regression": self.allow_regression,
            "min_score": self.min_score is None,
            "max_drop": self.max_drop is None,
        }
        cases = {
            rule: [f for f, r in zip(self.failures, self.failed_rules, strict=True) if r == rule] for rule in RULES
        }
        skipped = {rule for rule, off in unset.items() if off and not cases[rule]}
        return check_junit(self.prompt, cases, skipped, self.table())


def _candidate(lab: Lab, name: str, candidate: str | Prompt | os.PathLike[str] | None) -> Prompt:
    if isinstance(candidate, Prompt):
        return candidate
    if candidate is not None and Path(candidate).is_file():
        return read_prompt_file(Path(candidate))
    return lab.prompt(name, None if candidate in (None, "latest") else str(candidate))


def _meaning(evaluators: Sequence[evals.Evaluator], metric: str) -> evals.Meaning:
    """What the metric's evaluator declares its scores mean (a score, higher better, when none is found)."""
    chosen = next((e for e in evaluators if e.label == metric), None)
    return evals.Meaning() if chosen is None else evals.meaning_of(chosen)


def _worst(values: pd.Series, higher_is_better: bool) -> float:
    """The score a failed cell gets: the worst seen in the check, and never better than 0 when higher is better."""
    seen = pd.to_numeric(values, errors="coerce").dropna()
    if higher_is_better:
        return min(0.0, float(seen.min())) if len(seen) else 0.0
    return float(seen.max()) if len(seen) else 0.0


def _promptlab(lab: Lab) -> str:
    """``promptlab`` with the ``--db`` that reaches this lab's file (none for the default one)."""
    default = Path(default_db_path()).expanduser().resolve()
    return "promptlab" if lab.location == str(default) else f"promptlab --db {shlex.quote(lab.location)}"


@dataclass(frozen=True)
class _Cells:
    """The candidate's and the baseline's cells, and how many of each have no score."""

    candidate: pd.DataFrame
    """The candidate's trials, unscored cells given the worst score."""

    baseline: pd.DataFrame
    """The baseline's trials."""

    failed_calls: pd.DataFrame
    """The candidate's failed calls."""

    unscored: pd.DataFrame
    """The candidate's answered calls the metric's evaluator couldn't score."""

    baseline_errors: int
    """Baseline cells with no score."""


def _cells(trials: pd.DataFrame, baseline: str, candidate: str, metric: str, higher: bool) -> _Cells:
    column, passed = SCORE_PREFIX + metric, PASSED_PREFIX + metric
    base = trials[trials["prompt_version"] == baseline]
    cand = trials[trials["prompt_version"] == candidate]
    failed = cand["error_type"].notna()
    unscored = cand[~failed & cand[column].isna()]
    worst = {column: cand[column].fillna(_worst(trials[column], higher))}
    if passed in cand:  # a check is compared on its passes: a cell with no verdict fails
        worst[passed] = cand[passed].fillna(False)
    scored = cand.assign(**worst)
    return _Cells(scored, base, cand[failed], unscored, int(base[column].isna().sum()))


def _error_failures(cells: _Cells, max_errors: int, metric: str, promptlab: str, listing: str) -> list[str]:
    errors, unscored, total = len(cells.failed_calls), len(cells.unscored), len(cells.candidate)
    where = []
    if errors:
        where.append(f"{errors} calls failed (`{listing}` lists them)")
    if unscored:
        first = str(cells.unscored["trial_id"].iloc[0])[:8]
        where.append(f"{unscored} outputs not scored on {metric} (`{promptlab} show {first}` says why)")
    if total and errors == total:
        return [f"every candidate call failed ({errors}): " + "; ".join(where)]
    if errors + unscored > max_errors:
        return [f"{errors + unscored} of {total} candidate cells failed (max errors {max_errors}): " + "; ".join(where)]
    return []


def _regression(c: Comparison) -> str:
    return (
        f"the candidate is clearly worse than the baseline (regression rule): it loses on {c.losses} of {c.n} "
        f"inputs and wins on {c.wins}, sign test p={c.p_value:.3g}, difference {c.difference:+.3f} with 95% CI "
        f"{c.ci_low:+.3f} to {c.ci_high:+.3f}; --allow-regression (allow_regression=True) accepts it"
    )


def _comparison_failures(
    c: Comparison, min_score: float | None, max_drop: float | None, allow_regression: bool, listing: str
) -> list[tuple[str, str]]:
    failures = []
    if c.n == 0:
        failures.append(
            (
                "compared",
                "no input has a score for both the baseline and the candidate, so nothing "
                f"was compared (`{listing}` shows the failed calls)",
            )
        )
    if not allow_regression and c.clearly_worse:
        failures.append(("regression", _regression(c)))
    if min_score is not None and not (c.mean_b >= min_score):
        failures.append(("min_score", f"candidate mean {c.mean_b:.3f} is below min score {min_score}"))
    drop = -c.difference if c.higher_is_better else c.difference
    if max_drop is not None and not math.isnan(drop) and drop > max_drop:
        failures.append(("max_drop", f"candidate drops {drop:.3f} below the baseline (max drop {max_drop})"))
    return failures


def check(
    prompt: str,
    *,
    lab: Lab | str | os.PathLike[str] | None = None,
    data: Data,
    evaluators: Sequence[evals.Evaluator | Callable[..., Any] | str],
    against: str = "production",
    candidate: str | Prompt | os.PathLike[str] | None = None,
    model: Model | None = None,
    metric: str | None = None,
    min_score: float | None = None,
    max_drop: float | None = None,
    max_errors: int = 0,
    allow_regression: bool = False,
    experiment: str = "checks",
    concurrency: int = 8,
) -> CheckResult:
    """Run the candidate (a version prefix, a Prompt, an exported prompt file,
    or by default the newest version of ``prompt``) against the version
    ``against`` points at, and judge it on ``metric`` (default: the first
    evaluator). Evaluators may be given as ``"contains:expected"`` strings.
    ``lab`` is a Lab or a history path (default ``$PROMPTLAB_DB``). ``data`` is
    what ``lab.sweep`` takes: rows, a file, or a dataset (``lab.dataset(name)``,
    or ``"dataset:NAME[@VERSION]"``), which the run records with its version.

    It fails when more than ``max_errors`` candidate cells fail (a failed
    call, or an output the metric's evaluator couldn't score), when the
    candidate is clearly worse than the baseline (unless ``allow_regression``),
    below ``min_score``, or more than ``max_drop`` below the baseline. A failed
    cell scores the metric's worst value (0) in the comparison: a candidate
    is judged on every input, not only the ones it survived. See the module
    docstring for each rule."""
    if max_errors < 0:
        raise ConfigError(f"max_errors must be 0 or more, got {max_errors}")
    if not isinstance(lab, Lab):
        lab = Lab(lab)
    chosen = evals.coerce([evals.parse(e) if isinstance(e, str) else e for e in evaluators])
    if not chosen:
        raise ConfigError("check needs at least one evaluator, e.g. evaluators=['contains:expected']")
    baseline = lab.prompt(prompt, label=against)
    contender = _candidate(lab, prompt, candidate)
    contender = Prompt(contender.template, name=prompt, model=contender.model)
    runs_on = model or baseline.model or contender.model
    if runs_on is None:
        raise ConfigError(f"no model to run on: {against!r} recorded none; pass model=pl.Model(...) (--model)")
    check_endpoints([runs_on])  # a label's model is the history's choice: its endpoint and key must be allowed
    run = lab.sweep(
        [baseline, contender],
        runs_on,
        data,
        evaluators=chosen,
        experiment=experiment,
        concurrency=concurrency,
        display=None,
    )
    trials = run.df
    labels = score_columns(trials)
    metric = metric or chosen[0].label
    if metric not in labels:
        raise ConfigError(f"no evaluator labelled {metric!r} scored this check; labels: {', '.join(labels)}")
    higher, on = _meaning(chosen, metric).compared()
    cells = _cells(trials, baseline.version, contender.version, metric, higher)
    comparison = compare(cells.baseline, cells.candidate, metric, higher_is_better=higher, on=on)
    promptlab = _promptlab(lab)
    listing = f"{promptlab} history --run {run.run_id} --errors"
    found = [("errors", f) for f in _error_failures(cells, max_errors, metric, promptlab, listing)]
    found += _comparison_failures(comparison, min_score, max_drop, allow_regression, listing)
    return CheckResult(
        prompt=prompt,
        against=against,
        candidate=contender.version,
        baseline=baseline.version,
        metric=metric,
        comparison=comparison,
        min_score=min_score,
        max_drop=max_drop,
        run_id=run.run_id,
        errors=len(cells.failed_calls),
        failures=tuple(f for _, f in found),
        failed_rules=tuple(r for r, _ in found),
        unscored=len(cells.unscored),
        cells=len(cells.candidate),
        baseline_errors=cells.baseline_errors,
        max_errors=max_errors,
        allow_regression=allow_regression,
    )
