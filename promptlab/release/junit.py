"""The regression gate's result as JUnit XML, the format CI dashboards read.

One test suite per check, one test case per rule: a failure element for a
rule that failed, a skipped one for a rule nobody asked for. A check that
could not run (exit code 2: no such label, a missing file) is one test case
with an error element, so the dashboard shows the setup error rather than
"no tests".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

HEADER = '<?xml version="1.0" encoding="utf-8"?>\n'


def _suite(prompt: str, cases: Sequence[str], *, failures: int = 0, errors: int = 0, skipped: int = 0) -> str:
    return (
        f'{HEADER}<testsuite name={quoteattr("promptlab check " + prompt)} tests="{len(cases)}" '
        f'failures="{failures}" errors="{errors}" skipped="{skipped}">\n' + "\n".join(cases) + "\n</testsuite>\n"
    )


def _case(prompt: str, name: str, inner: str = "") -> str:
    return f"  <testcase classname={quoteattr('promptlab.check.' + prompt)} name={quoteattr(name)}>{inner}</testcase>"


def check_junit(prompt: str, cases: Mapping[str, Sequence[str]], skipped: Collection[str], table: str) -> str:
    """A suite with a test case per rule (``cases``: rule → its failure messages,
    in order); ``skipped`` rules were not asked for; ``table`` is each failure's text."""
    body = []
    for rule, problems in cases.items():
        if rule in skipped:
            inner = '<skipped message="not asked for"/>'
        else:
            inner = "".join(f"<failure message={quoteattr(p)}>{escape(table)}</failure>" for p in problems)
        body.append(_case(prompt, rule, inner))
    failed = sum(1 for rule, problems in cases.items() if problems and rule not in skipped)
    return _suite(prompt, body, failures=failed, skipped=len(skipped))


def setup_error_junit(prompt: str, message: str) -> str:
    """A suite whose one test case is the setup error that kept the check from running."""
    inner = f'<error message={quoteattr(message)} type="setup">{escape(message)}</error>'
    return _suite(prompt, [_case(prompt, "setup", inner)], errors=1)
