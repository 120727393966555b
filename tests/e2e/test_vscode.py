"""GitHub issue 4: the widget app works in VS Code notebooks.

VS Code draws ipywidgets with its own widget manager, not JupyterLab's. It
is published on npm as ``@vscode/jupyter-ipywidgets8``, the ready-built
bundle that VS Code's Jupyter extension loads into a notebook's output
webview. ``tests/e2e/vscode_host/`` is a page that uses that bundle the way the
extension's webview does: it builds ``vscIPyWidgets.WidgetManager`` on a
kernel connection from ``@jupyterlab/services``, and for each widget output
waits for the model, creates the view and displays it. The page has none of
JupyterLab's front end. The messages travel over a websocket to a Jupyter
server, where VS Code relays them through its extension host. Everything the
widgets draw and send goes through VS Code's code.

The test runs the quickstart's cells in a kernel behind that page, then
writes two prompt variants in the app, runs them, and watches the progress
bar and the results. It then opens History and votes in Review with single
keys typed into the key box. The page is built with npm into
``~/.cache/promptlab/vscode-host/`` on first use (about 15 s; the npm
registry is needed once), so Node.js and npm must be installed
(``.ci/run`` installs them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
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
    current_panel,
    run_and_watch,
    shoot,
    tab,
    write_two_variants,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

HOST = ROOT / "tests" / "e2e" / "vscode_host"
BUILD_INPUTS = ("package.json", "package-lock.json", "host.js")
RENDERER = "node_modules/@vscode/jupyter-ipywidgets8/dist/ipywidgets.js"
QUICKSTART = "notebooks/01_quickstart.ipynb"
CELL_TIMEOUT = 300 * SECONDS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "promptlab" / "vscode-host"


def build_host() -> Path:
    """The host page's npm packages and bundle, built once per version of its
    inputs into a cache folder (renamed into place only when complete)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "npm is not installed; the VS Code renderer test builds its page with it: "
            "run `apt-get install -y nodejs npm` (.ci/run does), or PROMPTLAB_SKIP_BROWSER=1 to skip",
            pytrace=False,
        )
    digest = hashlib.sha256(b"\0".join((HOST / name).read_bytes() for name in BUILD_INPUTS)).hexdigest()[:16]
    built = _cache_root() / digest
    if (built / "dist" / "host.js").is_file():
        return built
    building = built.with_name(f"{digest}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for name in BUILD_INPUTS:
        shutil.copyfile(HOST / name, building / name)
    for command in ([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], [npm, "run", "build"]):
        done = subprocess.run(command, check=False, cwd=building, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command[1:])} failed in {building}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    shutil.rmtree(built, ignore_errors=True)
    building.rename(built)
    return built


@pytest.fixture
def vscode_page(jupyter_lab: JupyterLab) -> str:
    """The host page, served by the Jupyter server (same origin as its kernels); its address."""
    built = build_host()
    folder = jupyter_lab.static / "vscode"
    folder.mkdir()
    files = {
        "index.html": HOST / "index.html",
        "require.js": built / "node_modules" / "requirejs" / "require.js",
        "host.js": built / "dist" / "host.js",
        "ipywidgets.js": built / RENDERER,
    }
    for name, source in files.items():
        shutil.copyfile(source, folder / name)
    return jupyter_lab.static_url("vscode/index.html")


def run_notebook_cells(page: Page, notebook: Path) -> int:
    """Run each code cell of ``notebook`` in the page's kernel, in order, as
    VS Code's Run All does; fail on the first cell that raises. How many ran."""
    cells = [cell for cell in json.loads(notebook.read_text())["cells"] if cell["cell_type"] == "code"]
    for cell in cells:
        source = "".join(cell["source"])
        errors = page.evaluate("([code, timeout]) => promptlabHost.execute(code, timeout)", [source, CELL_TIMEOUT])
        assert errors == [], f"cell failed in the VS Code host:\n{source}\n{errors}"
    return len(cells)


def test_quickstart_app_in_vscodes_widget_renderer(page: Page, jupyter_lab: JupyterLab, vscode_page: str) -> None:
    from playwright.sync_api import expect

    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.goto(vscode_page)
    options = {
        "baseUrl": f"{jupyter_lab.url}/",
        "token": jupyter_lab.token,
        "path": QUICKSTART,
        "rendererUrl": jupyter_lab.static_url("vscode/ipywidgets.js"),
    }
    started = page.evaluate("options => promptlabHost.start(options)", options)
    assert started == {"kernel": "python3", "widgetManager": "WidgetManager"}
    assert page.evaluate("() => typeof window.vscIPyWidgets.WidgetManager") == "function"
    assert page.locator("[class*='jp-Notebook'], #jp-main-dock-panel").count() == 0, "no JupyterLab front end"

    assert run_notebook_cells(page, ROOT / QUICKSTART) > 5
    app = page.locator(".widget-output").last
    titles = [label.strip() for label in app.locator(".lm-TabBar-tabLabel").all_inner_texts()]
    assert titles == ["Build & run", "Results", "History", "Review", "Registry", "Monitor"], titles

    write_two_variants(app)
    run_id = run_and_watch(app, shot="vscode_run_in_progress", for_docs=False)
    expect(button(app, "Run")).to_be_enabled()  # ready for the next sweep
    expect(button(app, "Stop")).to_be_disabled()
    for variant in ("one_word", "labeller"):  # the names typed in the app reached the kernel
        expect(app.locator(".pl-matrix th", has_text=f"{variant} · smollm2").first).to_be_visible()
    shoot(app, "vscode")

    # History lists the run, written by this user.
    tab(app, "History").click()
    history = current_panel(app)
    button(history, "Refresh").click()
    row = history.locator(".widget-hbox", has_text=f"run {run_id}").last
    expect(row).to_contain_text("playground")
    expect(row).to_contain_text(f"{CELLS}/{CELLS} trials")
    button(row, "Open").click()
    results = current_panel(app)
    expect(results).to_contain_text(f"{CELLS}/{CELLS} trials")

    # Review with single keys typed into the key box: u is a thumbs-up, j the next output.
    button(results, "Review one by one").click()
    review = current_panel(app)
    expect(review).to_contain_text(FIRST_REVIEW)
    review.get_by_text("next after a vote").click()  # stay on this output to see its count change
    keys = review.get_by_placeholder("click here, then type keys")
    keys.click()
    page.keyboard.type("u")
    expect(review.get_by_text(re.compile(r"▲ 1\b")).first).to_be_visible()
    expect(keys).to_have_value("")  # the box clears itself after each key
    page.keyboard.type("j")
    expect(review.locator("input[type=number]").first).to_have_value("2")  # the second output of 28
    expect(review.get_by_text(re.compile(r"▲ 0\b")).first).to_be_visible()  # its own, new feedback bar
    shoot(app, "vscode_review", for_docs=False)
    assert page_errors == []
