"""GitHub issue 4: the widget app works for a person in JupyterLab, in a real browser.

Debian's chromium, driven by Playwright (see tests/support/browser.py), opens
the quickstart in JupyterLab, runs every cell from the Run menu, writes two
prompt variants in the app, presses Run, waits for the progress bar and the
results, opens the run from History, votes in Review and looks at the
Registry. Then (issue 11) the app opens on the history a team has after a
week (tests/support/team_history.py: several prompts, versions and models, a judge,
failures, votes, labels, an interrupted run), and History, Results and
Registry are read and used on it. A screenshot of each part of the app goes
to ``artifacts/browser/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.browser import (
    CELLS,
    FIRST_REVIEW,
    ROOT,
    SECONDS,
    JupyterLab,
    button,
    code_cell_count,
    current_panel,
    hide_file_browser,
    labelled,
    run_all_cells,
    run_and_watch,
    selected_text,
    shoot,
    tab,
    write_notebook,
    write_two_variants,
)
from support.team_history import TeamHistory

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

TABS = ("Build & run", "Results", "History", "Review")
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


def test_quickstart_app_runs_a_sweep_in_a_real_browser(page: Page, jupyter_lab: JupyterLab) -> None:
    from playwright.sync_api import expect

    notebook = Path("notebooks/01_quickstart.ipynb")
    page.goto(jupyter_lab.page_url(notebook.as_posix()))
    run_all_cells(page, code_cell_count(ROOT / notebook))
    hide_file_browser(page)

    # The last cell's output is the app, on its "Build & run" tab.
    app = page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-OutputArea-output").first
    button(app, "Run").wait_for()
    titles = [label.strip() for label in app.locator(".lm-TabBar-tabLabel").all_inner_texts()]
    assert [title for title in titles if title in TABS] == list(TABS), titles
    write_two_variants(app)
    shoot(app, "builder")
    run_id = run_and_watch(app)

    # History lists the new run; Open shows it on the Results tab.
    tab(app, "History").click()
    history = current_panel(app)
    button(history, "Refresh").click()
    row = history.locator(".widget-hbox", has_text=f"run {run_id}").last
    expect(row).to_contain_text("playground")
    expect(labelled(history, "user").locator("option", has_text="tester")).to_have_count(1)  # they know who ran
    shoot(app, "quickstart_history", for_docs=False)  # the docs show a team's history (below)
    shown = [selected_text(labelled(history, name)) for name in ("when", "user", "experiment", "prompt", "model")]
    assert shown == ["any time", "anyone", "any", "any", "any"], shown  # not empty boxes
    expect(history.get_by_text("tag", exact=True)).to_be_hidden()
    button(row, "Open").click()
    results = current_panel(app)
    expect(results).to_contain_text(f"{CELLS}/{CELLS} trials")
    expect(results.locator(".pl-matrix").get_by_text(FIRST_REVIEW, exact=False).first).to_be_visible()
    shoot(app, "results")

    # Review one by one: a thumbs-up on the first output is recorded.
    button(results, "Review one by one").click()
    review = current_panel(app)
    expect(review).to_contain_text(FIRST_REVIEW)
    review.get_by_text("next after a vote").click()  # stay on this output to see its count change
    button(review, "up").click()
    expect(review.get_by_text(re.compile(r"▲ 1\b")).first).to_be_visible()
    shoot(app, "review")

    # The registry lists the prompt names just run, ready to label and export.
    tab(app, "Registry").click()
    registry = current_panel(app)
    button(registry, "Refresh").click()
    prompt_names = registry.locator("select").first
    expect(prompt_names.locator("option", has_text="one_word")).to_have_count(1)
    prompt_names.select_option(label="one_word")
    expect(registry.get_by_placeholder("one_word.prompt.json")).to_be_visible()  # the kernel showed one_word
    assert selected_text(prompt_names) == "one_word"
    version = registry.locator("select").nth(1)
    assert re.fullmatch(r"v1 · [0-9a-f]{8}", selected_text(version)), "the newest (and only) version is chosen"
    expect(button(registry, "Promote")).to_be_visible()
    shoot(app, "quickstart_registry", for_docs=False)
    shoot(page, "quickstart", for_docs=False)


def team_history_view(page: Page, app: Locator, team: TeamHistory) -> Locator:
    """History: everyone's runs, the interrupted one saying what happened, filters over
    several models. The judged run's row."""
    from playwright.sync_api import expect

    tab(app, "History").click()
    history = current_panel(app)
    expect(history.get_by_text("8 runs · newest first")).to_be_visible()  # the app's logged calls are one
    crashed = history.locator(".widget-hbox", has_text=f"run {team.runs['crashed'][:8]}").last
    expect(crashed).to_contain_text("interrupted")
    expect(crashed).to_contain_text("run the same sweep again to resume it")
    grid_row = history.locator(".widget-hbox", has_text=f"run {team.runs['grid'][:8]}").last
    expect(grid_row).to_contain_text("models: echo, flaky, upper")
    expect(grid_row).to_contain_text("(88 calls)")
    model = labelled(history, "model")
    assert [o.strip() for o in model.locator("option").all_inner_texts()] == ["any", "echo", "flaky", "upper"]
    model.select_option(label="flaky")
    expect(history.get_by_text("3 runs · newest first")).to_be_visible()
    model.select_option(label="any")
    expect(history.get_by_text("8 runs · newest first")).to_be_visible()
    assert selected_text(model) == "any"  # a filter's None for "any" once left the box empty here
    privacy = history.locator(".widget-html", has_text="approved restricted data of support").last
    expect(privacy).to_contain_text("pat (asked by ana) approved restricted data of support to model gpt-4o-mini")
    expect(privacy).to_contain_text("ana was refused")
    shoot(app, "history")
    return grid_row


def team_results_view(app: Locator, grid_row: Locator) -> None:
    """Results of the judged run on three models: verdicts with reasons, evaluator errors, the judge's call."""
    from playwright.sync_api import expect

    button(grid_row, "Open").click()
    expect(tab(app, "Results")).to_have_class(re.compile(r"\blm-mod-current\b"), timeout=120 * SECONDS)
    results = current_panel(app)
    expect(results).to_contain_text("96/96 trials")
    expect(results.locator(".pl-matrix th", has_text="summarize v2 · flaky (temperature=0.7)").first).to_be_visible()
    expect(results.locator(".pl-matrix").get_by_text("fine, one sentence", exact=False).first).to_be_visible()
    results.get_by_text("Summary by variant").click()  # folded: the columns' headers carry the pass rates
    expect(results.locator("th", has_text="eval errors").first).to_be_visible()
    results.get_by_placeholder("filter inputs and outputs").fill("lamp")  # one input: its two repeats
    results.get_by_placeholder("filter inputs and outputs").press("Enter")
    expect(results.get_by_text("of 1 · 2 of 8 inputs")).to_be_visible()
    expect(results.get_by_text("#0 · repeat 0")).to_have_count(0)  # the page was drawn again
    expect(results.get_by_text("⚠ short_enough: evaluator error", exact=False).first).to_be_visible()
    shoot(app, "results_judged")
    labelled(results, "open cell").select_option(label="#3 r0 · A")  # the lamp review, variant A, whole
    detail = results.locator(".widget-vbox", has_text="prompt as sent").last
    expect(detail.get_by_text("short_enough: evaluator error: ValueError: lamp", exact=False).first).to_be_visible()
    detail.locator(".widget-toggle-button", has_text=re.compile(r"^\s*judge\s*$")).first.click()
    expect(detail.get_by_text("Rubric: Is it one clear sentence?", exact=False).first).to_be_visible()
    shoot(app, "results_judge_call", for_docs=False)


def team_retrieval_results(app: Locator, team: TeamHistory) -> None:
    """Results of the retrieval sweep: variants split by retriever, and a cell's passages beside its answer."""
    from playwright.sync_api import expect

    tab(app, "History").click()
    history = current_panel(app)
    rag_row = history.locator(".widget-hbox", has_text=f"run {team.runs['rag'][:8]}").last
    button(rag_row, "Open").click()
    expect(tab(app, "Results")).to_have_class(re.compile(r"\blm-mod-current\b"), timeout=120 * SECONDS)
    results = current_panel(app)
    expect(results).to_contain_text("24/24 trials")
    expect(results.locator(".pl-matrix th", has_text="whole documents").first).to_be_visible()
    labelled(results, "open cell").select_option(index=1)
    detail = results.locator(".widget-vbox", has_text="prompt as sent").last
    expect(detail).to_contain_text("passages")
    expect(detail).to_contain_text("How long is the warranty on a kettle?")
    expect(detail.locator("mark").first).to_be_visible()
    shoot(app, "results_passages")


def team_registry_view(app: Locator) -> None:
    """Registry: three versions, the models of each, labels, the audit log with the rollback, a diff."""
    from playwright.sync_api import expect

    tab(app, "Registry").click()
    registry = current_panel(app)
    registry.locator("select").first.select_option(label="summarize")
    expect(registry.get_by_placeholder("summarize.prompt.json")).to_be_visible()
    expect(registry.get_by_text("echo, flaky, upper").first).to_be_visible()
    expect(registry.get_by_text("production, staging").first).to_be_visible()
    expect(registry).to_contain_text("(rollback by ana, approved by lee) — v3 is too long for the app")
    button(registry, "Show diff").click()
    expect(registry.locator(".pl-diff table.diff")).to_be_visible()
    shoot(app, "registry")


def team_monitor_view(app: Locator) -> None:
    """Monitor: the app's calls of summarize per label and version; production against staging, in words."""
    from playwright.sync_api import expect

    tab(app, "Monitor").click()
    monitor = current_panel(app)
    expect(labelled(monitor, "prompt").locator("option", has_text="summarize")).to_have_count(1)
    button(monitor, "Show").click()
    expect(monitor.locator("table").first).to_contain_text("production")
    expect(monitor.locator("table").first).to_contain_text("staging")
    expect(monitor.locator("img").first).to_be_visible()  # the plot
    labelled(monitor, "A").select_option(label="production")
    labelled(monitor, "B").select_option(label="staging")
    button(monitor, "Compare").click()
    expect(monitor.get_by_text("on error_rate", exact=False).first).to_be_visible()
    shoot(app, "monitor")


def test_the_app_on_a_teams_history_in_a_real_browser(
    page: Page, jupyter_lab: JupyterLab, team_history_template: TeamHistory
) -> None:
    """The app over the history a team has after a week (tests/support/team_history.py): several
    prompts and versions, three models on one run, a grid, repeats, failures, a judge,
    evaluator errors, votes, labels and an interrupted run. It once crashed on opening."""
    team = team_history_template.copy_to(jupyter_lab.root / "team")
    write_notebook(
        jupyter_lab.root / "team.ipynb",
        "import promptlab as pl\n\nlab = pl.Lab('team/history.duckdb')",
        "pl.ui.playground(lab)",
    )
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.goto(jupyter_lab.page_url("team.ipynb"))
    run_all_cells(page, 2)
    hide_file_browser(page)
    app = page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-OutputArea-output").first
    button(app, "Run").wait_for()
    grid_row = team_history_view(page, app, team)
    team_results_view(app, grid_row)
    team_retrieval_results(app, team)
    team_registry_view(app)
    team_monitor_view(app)
    tracebacks = page.locator(".jp-OutputArea-output", has_text="Traceback (most recent call last)")
    assert tracebacks.count() == 0, tracebacks.first.inner_text()
    assert page_errors == []
