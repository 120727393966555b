"""GitHub issue 4: the widget app works for a person in JupyterLab, in a real browser.

Debian's chromium, driven by Playwright (see tests/browser_support.py), opens
the quickstart in JupyterLab, runs every cell from the Run menu, writes two
prompt variants in the app, presses Run, waits for the progress bar and the
results, opens the run from History, votes in Review and looks at the
Registry. A screenshot of each part of the app goes to ``artifacts/browser/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_support import (
    CELLS,
    FIRST_REVIEW,
    ROOT,
    SECONDS,
    JupyterLab,
    button,
    current_panel,
    run_and_watch,
    selected_text,
    shoot,
    tab,
    write_two_variants,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

TABS = ("Build & run", "Results", "History", "Review")
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


def _menu(page: Page, menu: str, item: str) -> None:
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item).first.click()


def code_cell_count(notebook: Path) -> int:
    import nbformat

    return sum(cell.cell_type == "code" for cell in nbformat.read(notebook, as_version=4).cells)


def run_all_cells(page: Page, n_code_cells: int, timeout: float = 300) -> None:
    """Once the kernel is idle, clear the stored outputs, then Run → Run All
    Cells and wait until the last code cell shows ``[n]:`` (a fresh kernel
    ran all n cells in order)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt")
    page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-CodeCell').length === n", arg=n_code_cells)
    # The status bar reads "No Kernel | Initializing", then "Python 3 (ipykernel) | Connecting", then "| Idle";
    # a Run All clicked before the kernel is there can be lost.
    page.wait_for_function(
        """() => { const text = document.querySelector('#jp-main-statusbar')?.textContent ?? '';
                   return text.includes('| Idle') && !text.includes('No Kernel'); }""",
        timeout=120 * SECONDS,
    )
    _menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        r"""() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
                  .every(p => !/[\d*]/.test(p.textContent))"""
    )
    _menu(page, "Run", "Run All Cells")
    started = r"""() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
                        .some(p => /[\d*]/.test(p.textContent))"""
    try:
        page.wait_for_function(started, timeout=30 * SECONDS)
    except PlaywrightTimeoutError:  # the command was lost (seen once while the kernel was still connecting): once more
        _menu(page, "Run", "Run All Cells")
    try:
        page.wait_for_function(
            """n => {
                const prompts = document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt');
                return prompts.length === n && prompts[n - 1].textContent.trim() === `[${n}]:`;
            }""",
            arg=n_code_cells,
            timeout=timeout * SECONDS,
        )
    except PlaywrightTimeoutError:
        shoot(page, "failed_run_all", for_docs=False)
        raise AssertionError(f"the notebook did not run to the end; prompts: {prompts.all_inner_texts()}") from None
    tracebacks = page.locator(".jp-OutputArea-output", has_text="Traceback (most recent call last)")
    assert tracebacks.count() == 0, tracebacks.first.inner_text()


def hide_file_browser(page: Page) -> None:
    """Close the left sidebar so the app gets the page's width."""
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current.count():
        current.first.click()


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
    filters = history.locator("select:visible")
    expect(filters.first.locator("option", has_text="tester")).to_have_count(1)  # the filters know who ran
    shoot(app, "history")
    shown = [selected_text(filters.nth(i)) for i in range(4)]  # user, experiment, prompt, model (no tags: hidden)
    assert shown == ["anyone", "any", "any", "any"], shown  # not empty boxes
    expect(history.get_by_text("tag", exact=True)).to_be_hidden()
    button(row, "Open").click()
    results = current_panel(app)
    expect(results).to_contain_text(f"{CELLS}/{CELLS} trials")
    expect(results.get_by_text(FIRST_REVIEW, exact=False).first).to_be_visible()
    shoot(app, "results")

    # Review one by one: a thumbs-up on the first output is recorded.
    button(results, "Review one by one").click()
    review = current_panel(app)
    expect(review).to_contain_text(FIRST_REVIEW)
    review.get_by_text("next after a vote").click()  # stay on this output to see its count change
    button(review, "👍 up").click()
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
    assert re.fullmatch(r"[0-9a-f]{12}", selected_text(version)), "the newest version is chosen"
    expect(button(registry, "Promote")).to_be_visible()
    shoot(app, "registry")
    shoot(page, "quickstart", for_docs=False)
