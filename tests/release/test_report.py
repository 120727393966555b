"""The HTML report: one self-contained, escaped file a teammate can open from email."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from support.stores import new_lab

import promptlab as pl
from promptlab.errors import NotFoundError
from promptlab.release import report
from promptlab.testing import fake_model

pytestmark = pytest.mark.both_stores

TERSE = pl.Prompt(
    [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say {{ text }}"}], name="say"
)
TERSER = pl.Prompt(
    [{"role": "system", "content": "Be very terse.\nNo lists."}, {"role": "user", "content": "Say {{ text }}"}],
    name="say",
)
PLANTED = "<script>alert('x')</script>"


class Page(HTMLParser):
    """What the report's HTML holds: elements, attributes, table cells and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


@pytest.fixture
def lab(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> pl.Lab:
    lab = new_lab(tmp_path, store_kind, request)
    data = [{"text": f"item {i} {PLANTED}", "expected": f"item {i}" if i % 3 else "nope"} for i in range(8)]
    run = lab.sweep(
        prompts=[TERSE, TERSER],
        models=[fake_model("echo"), fake_model("upper", fail_if="item 7")],
        data=data,
        experiment="moods",
        description="Which prompt says it best?",
        display=None,
    )
    lab.evaluate(run, [pl.evals.contains("expected")])
    trials = lab.trials()
    lab.feedback(trials["trial_id"].iloc[0], vote="up", comment="nice")
    lab.feedback(trials["trial_id"].iloc[1], vote="down", correction="Better.")
    return lab


def test_report_is_self_contained_and_has_the_summary(lab: pl.Lab, tmp_path: Path) -> None:
    path = lab.report(tmp_path / "out" / "moods.html", "moods", mkdir=True)
    assert path == tmp_path / "out" / "moods.html"
    page = parse(path)
    html = path.read_text(encoding="utf-8")
    assert "Experiment: moods" in html and "Which prompt says it best?" in html

    # the per-variant summary with confidence intervals
    summary = page.tables[0]
    assert summary[0][:3] == ["variant", "trials", "errors"] and "contains:expected (95% CI)" in summary[0]
    assert len(summary) == 1 + 4  # four variants
    variants = [row[0] for row in summary[1:]]
    assert all(" · echo" in v or " · upper" in v for v in variants)
    ci = summary[1][summary[0].index("contains:expected (95% CI)")]
    assert ci.count("[") == 1 and ci.endswith("]")
    assert any(row[2].startswith("1 ") for row in summary[1:])  # the failed call is counted

    # plots as PNG data, nothing fetched from anywhere
    images = [value for tag, name, value in page.attributes if tag == "img" and name == "src"]
    assert len(images) == 3  # the score with CI bars, latency, cost
    for source in images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(b"\x89PNG")
    for tag, name, value in page.attributes:
        assert not value.lower().startswith(("http:", "https:", "//")), (tag, name, value)
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert "style" in page.tags  # inline CSS


def test_report_escapes_outputs_and_shows_samples_prompts_and_feedback(lab: pl.Lab, tmp_path: Path) -> None:
    path = lab.report(tmp_path / "moods.html", "moods", samples=3)
    page = parse(path)
    html = path.read_text(encoding="utf-8")
    assert PLANTED not in html and "&lt;script&gt;" in html
    text = "".join(page.text)
    assert PLANTED in text  # shown as text, never run
    assert PLANTED.upper() in text  # the upper model's output, escaped too

    samples = next(table for table in page.tables if table[0][0] == "input")
    assert len(samples) == 1 + 3 and len(samples[0]) == 1 + 4
    assert samples[1][0].startswith("text: item 0")
    assert any("Say item 0" in cell for cell in samples[1][1:])

    # each version's text and the diff between them
    assert "Be terse." in text and "Be very terse." in text
    assert "-Be terse." in text and "+Be very terse." in text and "+No lists." in text

    feedback = next(table for table in page.tables if table[0][:2] == ["variant", "up-votes"])
    totals = [sum(int(row[i]) for row in feedback[1:]) for i in range(1, 5)]
    assert totals == [1, 1, 1, 1]  # up, down, corrections, comments

    runs = next(table for table in page.tables if table[0][:2] == ["run", "started"])
    assert len(runs) == 2 and runs[1][2] == "tester" and runs[1][3] == "done"


def test_failed_calls_show_their_error(lab: pl.Lab, tmp_path: Path) -> None:
    page = parse(lab.report(tmp_path / "moods.html", "moods", samples=8))
    samples = next(table for table in page.tables if table[0][0] == "input")
    row = next(row for row in samples[1:] if row[0].startswith("text: item 7"))
    assert sum("PermanentError: fake failure" in cell for cell in row[1:]) == 2


def test_unknown_experiment(lab: pl.Lab, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no experiment named 'nope'.*moods"):
        lab.report(tmp_path / "x.html", "nope")
    assert not (tmp_path / "x.html").exists()


def test_render_is_a_pure_function_of_the_data(lab: pl.Lab) -> None:
    data = lab.report_data("moods")
    first: Any = report.render_report(data, title="Moods, compared", now=data.trials["created_at"].max())
    second = report.render_report(data, title="Moods, compared", now=data.trials["created_at"].max())
    assert first == second and "<title>Moods, compared</title>" in first
