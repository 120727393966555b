"""The real-browser harness shared by tests/e2e/test_browser.py (JupyterLab) and
tests/e2e/test_vscode.py (VS Code's widget renderer).

A Jupyter server (``jupyter lab``) runs as a subprocess on a temporary copy of
``notebooks/`` and ``experiments/``, with a folder of its own served under
``/static/`` for pages a test brings; Debian's chromium, driven by
Playwright, opens it. Screenshots land in ``artifacts/browser/``
(git-ignored); with ``PROMPTLAB_UPDATE_SCREENSHOTS=1`` they are also copied
to ``docs/screenshots/``, which the README shows.

Chromium comes from Debian (``apt-get install -y chromium``; ``.ci/run``
installs it): Playwright downloads no browser here. Without it these tests
fail and say so; set ``PROMPTLAB_SKIP_BROWSER=1`` to skip them on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path(os.environ.get("PROMPTLAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAB_SETTINGS = {
    # Start the notebook's kernel without asking, and keep every cell in the
    # page (JupyterLab 4 otherwise only renders the cells in view).
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",
    },
    # No "get Jupyter news?" toast over the screenshots, no update checks.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
SECONDS = 1000  # Playwright timeouts are in milliseconds
FIRST_REVIEW = "The kettle boils fast"
"""Start of the first row of experiments/data/reviews.jsonl, the quickstart's data."""
CELLS = 2 * 14
"""The sweep the tests build: two prompt variants × one model × 14 reviews."""


@dataclass
class JupyterLab:
    """A running JupyterLab server."""

    url: str
    token: str
    log: Path
    static: Path
    """A folder the server serves under ``/static/`` (no token needed), empty at first."""
    root: Path
    """The server's root folder (a copy of ``notebooks/`` and ``experiments/``); notebooks and files a
    test puts here open at ``page_url(relative path)``."""

    def static_url(self, path: str) -> str:
        return f"{self.url}/static/{path}"

    def page_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}&reset"


def _chromium() -> Path:
    if os.environ.get("PROMPTLAB_SKIP_BROWSER") == "1":
        pytest.skip("PROMPTLAB_SKIP_BROWSER=1: the real-browser test was skipped on purpose")
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Debian's chromium is not installed (no {CHROMIUM}); the real-browser test needs it: "
            "run `apt-get install -y chromium` (.ci/run does), or set PROMPTLAB_CHROMIUM to a chromium "
            "binary, or PROMPTLAB_SKIP_BROWSER=1 to skip this test on purpose",
            pytrace=False,
        )
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_serving(lab: JupyterLab, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}:\n{lab.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{lab.url}/api/status?token={lab.token}", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"jupyter lab did not answer within {timeout:.0f} s:\n{lab.log.read_text()[-3000:]}")


@pytest.fixture
def jupyter_lab(tmp_path: Path) -> Iterator[JupyterLab]:
    """JupyterLab on a scratch copy of the notebooks and their data, with its
    own settings, workspaces and runtime folders."""
    with serving(tmp_path) as lab:
        yield lab


@contextlib.contextmanager
def serving(tmp_path: Path) -> Iterator[JupyterLab]:
    """JupyterLab running in ``tmp_path`` (see ``jupyter_lab``) until the block ends."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("*.duckdb*", ".ipynb_checkpoints")
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=ignore)
    shutil.copytree(ROOT / "experiments", root / "experiments", ignore=ignore)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    settings = tmp_path / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "TMPDIR": str(scratch),  # where the notebook's kernel makes its history file
    }
    port, token = _free_port(), secrets.token_hex(16)
    static = tmp_path / "static"
    static.mkdir()
    lab = JupyterLab(
        url=f"http://127.0.0.1:{port}", token=token, log=tmp_path / "jupyter.log", static=static, root=root
    )
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--allow-root",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--ServerApp.extra_static_paths={json.dumps([str(static)])}",
    ]
    with open(lab.log, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
        try:
            _wait_until_serving(lab, process)
            yield lab
        finally:
            _stop(process)  # also shuts down the notebook's kernel


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium; the test fails (not skips) without it."""
    return _chromium()


@pytest.fixture
def page(chromium: Path, jupyter_lab: JupyterLab) -> Iterator[Page]:
    """A chromium page on the JupyterLab server, closed (and chromium ended) whatever happens."""
    with browsing(chromium) as opened:
        yield opened


@contextlib.contextmanager
def browsing(chromium: Path, width: int = 1280, height: int = 2400) -> Iterator[Page]:
    """A page of a headless chromium (``width`` × ``height``), closed when the block ends."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
            page.set_default_timeout(60 * SECONDS)
            yield page
        finally:
            browser.close()


def shoot(target: Page | Locator, name: str, *, for_docs: bool = True) -> Path:
    """Save a screenshot as artifacts/browser/NAME.png; with
    PROMPTLAB_UPDATE_SCREENSHOTS=1, ``for_docs`` ones also go to docs/screenshots/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path))
    if for_docs and os.environ.get("PROMPTLAB_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / path.name)
    return path


def button(scope: Locator, text: str) -> Locator:
    """The widget button whose label is exactly ``text``."""
    return scope.locator(".widget-button").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")).first


def selected_text(select: Locator) -> str:
    """What a dropdown shows."""
    shown = select.evaluate("select => select.selectedIndex < 0 ? '' : select.options[select.selectedIndex].text")
    return " ".join(str(shown).split())  # the browser shows spaces as no-break spaces


def tab(app: Locator, title: str) -> Locator:
    return app.locator(".lm-TabBar-tab").filter(has_text=title).first


def current_panel(app: Locator) -> Locator:
    """The visible tab of the app (ipywidgets keeps the others hidden)."""
    return app.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)").first


def write_two_variants(app: Locator) -> None:
    """Name a prompt variant and write its user message, add a second with a
    system message; the app checks them, prices the sweep and enables Run."""
    from playwright.sync_api import expect

    names = app.get_by_placeholder("prompt name (versions group under it)")
    messages = app.locator(".widget-textarea textarea")
    # The first variant's editor may still be drawing: type into it only once it is there.
    expect(names).to_have_count(1)
    expect(messages).to_have_count(2)
    names.nth(0).fill("one_word")
    messages.nth(1).fill("Review: {{ text }}\nIs it positive or negative? One word.")  # nth(0) is its system message
    button(app, "+ prompt variant").click()
    expect(messages).to_have_count(4)
    names.nth(1).fill("labeller")
    messages.nth(2).fill("You label product reviews: answer positive or negative.")
    messages.nth(3).fill("{{ text }}")
    app.get_by_placeholder("e.g. 0, 0.7", exact=False).fill("0")  # greedy: the same answers on every run
    expect(app.get_by_text(f"{CELLS} cells", exact=False).first).to_be_visible()
    expect(button(app, "Run")).to_be_enabled()


def run_and_watch(app: Locator, *, shot: str = "run_in_progress", for_docs: bool = True) -> str:
    """Press Run, see the progress bar move and fill, and the results grid
    under it fill in (a screenshot named ``shot`` mid-run); the run id's first 8 characters."""
    from playwright.sync_api import expect

    button(app, "Run").click()
    progress = app.locator(".widget-hprogress, .widget-progress, progress").first  # ipywidgets 8: .widget-hprogress
    expect(progress).to_be_visible()
    counts = app.locator(".widget-html-content", has_text=re.compile(rf"run [0-9a-f]{{8}} [1-9]\d*/{CELLS} done"))
    counts.first.wait_for(timeout=120 * SECONDS)
    shoot(app, shot, for_docs=for_docs)
    run_id = re.search(r"run ([0-9a-f]{8})", counts.first.inner_text())
    assert run_id is not None
    finished = app.locator(".widget-html-content", has_text=re.compile(rf"{CELLS}/{CELLS} done · 0 errors .*· done"))
    finished.first.wait_for(timeout=300 * SECONDS)
    expect(progress.locator(".progress-bar")).to_have_attribute("style", re.compile(r"width: 100%"))
    expect(app.get_by_text(FIRST_REVIEW, exact=False).first).to_be_visible()
    return run_id[1]


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


def write_notebook(path: Path, *cells: str) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)


def labelled(scope: Locator, description: str, kind: str = "select") -> Locator:
    """The control (``select``, ``input``) of the widget described as ``description``."""
    label = scope.page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(description)}\s*$"))
    widget = scope.locator(".widget-inline-hbox", has=label)
    return widget.locator(kind).first
