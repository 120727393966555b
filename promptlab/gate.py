"""The regression gate: does a candidate prompt hold up against the labelled one?

``check`` runs the candidate and the baseline (the version a label points
at) on the same data with the same evaluators, in one recorded run (the
cache makes unchanged work free), pairs them by input and applies the
paired comparison. It passes when the candidate reaches ``min_score`` and
drops no more than ``max_drop`` below the baseline. From pytest:
``assert pl.check(...)`` fails with the readable table; from CI,
``promptlab check ...`` exits 0 (pass), 1 (regression) or 2 (setup error).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from promptlab import evals
from promptlab.columns import score_columns
from promptlab.data import Data
from promptlab.endpoints import check_endpoints
from promptlab.errors import ConfigError
from promptlab.lab import Lab
from promptlab.loading import read_prompt_file
from promptlab.model import Model
from promptlab.prompt import Prompt
from promptlab.stats import Comparison, compare


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
    """The paired comparison (A = baseline, B = candidate)."""

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

    @property
    def passed(self) -> bool:
        """True when every criterion held."""
        return not self.failures

    def __bool__(self) -> bool:
        return self.passed

    def table(self) -> str:
        """The result as a small text table."""
        c = self.comparison
        rows = [
            ("prompt", self.prompt),
            (f"baseline ({self.against})", f"{self.baseline}  mean {self.metric} = {c.mean_a:.3f}"),
            ("candidate", f"{self.candidate}  mean {self.metric} = {c.mean_b:.3f}"),
            ("difference", f"{c.difference:+.3f}  (95% CI {c.ci_low:+.3f} to {c.ci_high:+.3f}, n={c.n})"),
            ("wins / losses / ties", f"{c.wins} / {c.losses} / {c.ties}  (sign test p={c.p_value:.3g})"),
            ("min score", "—" if self.min_score is None else f"{self.min_score}"),
            ("max drop", "—" if self.max_drop is None else f"{self.max_drop}"),
            ("candidate errors", str(self.errors)),
            ("run", self.run_id),
            ("result", "PASS" if self.passed else "FAIL: " + "; ".join(self.failures)),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

    def __repr__(self) -> str:
        return self.table()

    def assert_passed(self) -> None:
        """Raise ``AssertionError`` with the table unless it passed."""
        if not self.passed:
            raise AssertionError(self.table())

    def junit_xml(self) -> str:
        """The result as JUnit XML (one test case per criterion) for CI dashboards."""
        cases = [("min_score", [f for f in self.failures if "min" in f]),
                 ("max_drop", [f for f in self.failures if "drop" in f]),
                 ("calls", [f for f in self.failures if "call" in f])]  # fmt: skip
        failed = sum(1 for _, f in cases if f)
        body = []
        for name, problems in cases:
            inner = "".join(f"<failure message={quoteattr(p)}>{escape(self.table())}</failure>" for p in problems)
            body.append(
                f'  <testcase classname={quoteattr("promptlab.check." + self.prompt)} name="{name}">{inner}</testcase>'
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<testsuite name={quoteattr("promptlab check " + self.prompt)} tests="{len(cases)}" '
            f'failures="{failed}" errors="0">\n' + "\n".join(body) + "\n</testsuite>\n"
        )


def _candidate(lab: Lab, name: str, candidate: str | Prompt | os.PathLike[str] | None) -> Prompt:
    if isinstance(candidate, Prompt):
        return candidate
    if candidate is not None and Path(candidate).is_file():
        return read_prompt_file(Path(candidate))
    return lab.prompt(name, None if candidate in (None, "latest") else str(candidate))


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
    experiment: str = "checks",
    concurrency: int = 8,
) -> CheckResult:
    """Run the candidate (a version prefix, a Prompt, an exported prompt file,
    or by default the newest version of ``prompt``) against the version
    ``against`` points at, and judge it on ``metric`` (default: the first
    evaluator). Evaluators may be given as ``"contains:expected"`` strings.
    ``lab`` is a Lab or a history path (default ``$PROMPTLAB_DB``)."""
    if not isinstance(lab, Lab):
        lab = Lab(lab)
    chosen = [evals.parse(e) if isinstance(e, str) else e for e in evaluators]
    if not chosen:
        raise ConfigError("check needs at least one evaluator, e.g. evaluators=['contains:expected']")
    baseline = lab.prompt(prompt, label=against)
    contender = _candidate(lab, prompt, candidate)
    contender = Prompt(contender.template, name=prompt, model=contender.model)
    runs_on = model or baseline.model or contender.model
    if runs_on is None:
        raise ConfigError(f"no model to run on: {against!r} recorded none; pass model=pl.Model(...) (--model)")
    check_endpoints([runs_on])  # a label's model is the history's choice: its endpoint and key must be allowed
    run = lab.sweep([baseline, contender], runs_on, data, evaluators=chosen, experiment=experiment,
                    concurrency=concurrency, display=None)  # fmt: skip
    trials = run.df
    labels = score_columns(trials)
    metric = metric or evals.coerce(chosen)[0].label
    if metric not in labels:
        raise ConfigError(f"no evaluator labelled {metric!r} scored this check; labels: {', '.join(labels)}")
    base = trials[trials["prompt_version"] == baseline.version]
    cand = trials[trials["prompt_version"] == contender.version]
    comparison = compare(base, cand, metric)
    errors = int(cand["error_type"].notna().sum())
    failures = []
    if errors == len(cand):
        failures.append(f"every candidate call failed ({errors}); see promptlab history --run {run.run_id}")
    if min_score is not None and not (comparison.mean_b >= min_score):
        failures.append(f"candidate mean {comparison.mean_b:.3f} is below min score {min_score}")
    if max_drop is not None and not math.isnan(comparison.difference) and comparison.difference < -max_drop:
        failures.append(f"candidate drops {-comparison.difference:.3f} below the baseline (max drop {max_drop})")
    return CheckResult(
        prompt=prompt, against=against, candidate=contender.version, baseline=baseline.version, metric=metric,
        comparison=comparison, min_score=min_score, max_drop=max_drop, run_id=run.run_id, errors=errors,
        failures=tuple(failures),
    )  # fmt: skip
