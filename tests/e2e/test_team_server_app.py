"""The team server's "done when", in JupyterLab in a real browser (Debian's
chromium driven by Playwright, tests/support/browser.py): two people on two
machines record into one PostgreSQL database (the private test cluster,
tests/support/postgres.py), and each sees the other's runs in the app.

ana and ben each record from a process of their own, with a home folder of
their own (so a spool of their own), logged in as themselves. Then ben opens
the app on the server in a notebook: History lists both people's runs and
narrows to ana's, Open shows one of hers in Results, and in the Registry his
promotion of her prompt to the protected ``production`` is refused by the
server until lee, the approver, has approved it from his own login.
Screenshots go to ``artifacts/browser/`` (``team_server_*.png``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.browser import (
    SECONDS,
    JupyterLab,
    button,
    current_panel,
    hide_file_browser,
    labelled,
    run_all_cells,
    selected_text,
    shoot,
    tab,
    write_notebook,
)
from support.postgres import SUPERUSER, Cluster

import promptlab as pl
from promptlab.store.server import roles
from promptlab.store.server.connection import connect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

RECORD = """
import sys
import promptlab as pl
from promptlab.testing import fake_model

url, *templates = sys.argv[1:]
rows = [{"text": text} for text in ("sunny", "rainy", "windy")]
for template in templates:
    pl.Lab(url).sweep(pl.Prompt(template, name="mood"), [fake_model("echo"), fake_model("upper")], rows,
                      experiment="moods")
"""
"""One person's sweeps of the prompt ``mood``, a run per template: python -c RECORD URL TEMPLATE..."""

TEMPLATES = {
    "ana": ["Mood of: {{ text }}", "One word for the mood of {{ text }} weather:"],
    "ben": ["How does {{ text }} feel?"],
}
"""What each person runs; each template is a version of ``mood`` and a run of its own."""


def record_on_own_machines(cluster: Cluster, database: str, tmp_path: Path) -> None:
    """ana and ben record at the same time, each from a process with a home of their own
    (the spool is under it), logged in as themselves whatever PROMPTLAB_USER says."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PROMPTLAB_", "PG", "XDG_"))}
    homes = {person: tmp_path / f"home-{person}" for person in TEMPLATES}
    running = {}
    for person, templates in TEMPLATES.items():
        homes[person].mkdir()
        env = {**keep, "HOME": str(homes[person]), "PROMPTLAB_USER": "someone-else"}
        running[person] = subprocess.Popen(
            [sys.executable, "-c", RECORD, cluster.url(database, user=person), *templates],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    for person, process in running.items():
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, f"{person}'s sweep failed:\n{errors}"
        assert (homes[person] / ".local" / "state" / "promptlab" / "spool").is_dir()


def open_app(page: Page, jupyter_lab: JupyterLab, url: str) -> Locator:
    """ben's notebook: the app on the team server, as him."""
    cells = (
        f"import promptlab as pl\nfrom promptlab.testing import fake_model\n\nlab = pl.Lab({url!r})",
        "pl.ui.playground(lab, models=[fake_model('echo')])",
    )
    write_notebook(jupyter_lab.root / "team_server.ipynb", *cells)
    page.goto(jupyter_lab.page_url("team_server.ipynb"))
    run_all_cells(page, len(cells))
    hide_file_browser(page)
    app = page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-OutputArea-output").first
    button(app, "Run").wait_for()
    return app


def everyones_runs_in_history(app: Locator, team: pl.Lab) -> None:
    """History: all three runs, both people to pick from; ana's alone; Open one → Results."""
    from playwright.sync_api import expect

    runs = team.runs()
    anas = runs[runs["user"] == "ana"]
    tab(app, "History").click()
    history = current_panel(app)
    expect(history.get_by_text(f"{len(runs)} runs · newest first", exact=True)).to_be_visible()
    for run_id, user in runs[["run_id", "user"]].itertuples(index=False):
        row = history.locator(".widget-hbox", has_text=f"run {run_id[:8]}").last
        expect(row).to_contain_text(f" {user} · moods")
    user = labelled(history, "user")
    expect(user.locator("option")).to_have_text(["anyone", "ana", "ben"])
    user.select_option(label="ana")
    expect(history.get_by_text(f"{len(anas)} runs · newest first · user ana")).to_be_visible()
    assert selected_text(user) == "ana"
    expect(history.locator(".widget-hbox", has_text=re.compile(r"run [0-9a-f]{8}"))).to_have_count(len(anas))
    shoot(app, "team_server_history", for_docs=False)

    opened = anas.iloc[0]
    row = history.locator(".widget-hbox", has_text=f"run {opened['run_id'][:8]}").last
    button(row, "Open").click()
    expect(tab(app, "Results")).to_have_class(re.compile(r"\blm-mod-current\b"), timeout=60 * SECONDS)
    trials = team.trials(run=opened["run_id"])
    results = current_panel(app)
    expect(results).to_contain_text(f"{len(trials)}/{len(trials)} trials")
    expect(results.get_by_text(str(trials["output"].iloc[0]), exact=False).first).to_be_visible()


def promotion_needs_the_approvers_own_approval(app: Locator, team: pl.Lab, cluster: Cluster, database: str) -> None:
    """Registry: ben moves production to ana's newest version of ``mood``, naming lee; the
    server refuses it (lee hasn't approved) in its own words; after lee approves, it moves."""
    from playwright.sync_api import expect

    versions = team.prompt_versions("mood")
    newest_of_ana = versions[versions["created_by"] == "ana"].iloc[-1]
    version = str(newest_of_ana["version"])
    tag = f"v{newest_of_ana['number']} · {version[:8]}"
    tab(app, "Registry").click()
    registry = current_panel(app)
    expect(labelled(registry, "prompt")).to_have_value("mood")
    labelled(registry, "version").select_option(label=tag)
    approver = labelled(registry, "approved by")
    expect(approver.locator("option", has_text="lee")).to_have_count(1)
    approver.select_option(label="lee")
    button(registry, "Promote").click()
    expect(registry).to_contain_text(f"move production: new → {tag}")
    button(registry, "Confirm").click()
    refusal = f"the team server refused it: production is protected: lee must approve mood version {version}"
    expect(registry).to_contain_text(refusal)
    shoot(app, "team_server_registry_refused", for_docs=False)
    assert team.labels("mood").empty

    pl.Lab(cluster.url(database, user="lee")).approve_promotion("mood", version)
    expect(button(registry, "Confirm")).to_be_hidden()  # the refused move is no longer waiting
    approver.select_option(label="lee")
    button(registry, "Promote").click()
    expect(registry).to_contain_text(f"move production: new → {tag}, approved by lee")
    button(registry, "Confirm").click()
    expect(registry).to_contain_text(f"✓ production → {tag}")
    expect(registry).to_contain_text(f"production: new → {tag} (promote by ben, approved by lee)")
    assert team.labels("mood").set_index("label").loc["production", "version"] == version


def test_two_people_on_two_machines_see_each_others_runs_in_the_app(
    page: Page, jupyter_lab: JupyterLab, pg_cluster: Cluster, server_url: str, tmp_path: Path
) -> None:
    database = server_url.rsplit("/", 1)[1]
    with connect(pg_cluster.url(database, user=SUPERUSER)) as admin:
        for person in TEMPLATES:
            roles.grant(admin, person, "researcher")
        roles.grant(admin, "lee", "approver")
    record_on_own_machines(pg_cluster, database, tmp_path)
    team = pl.Lab(server_url)  # tester's view of the same history, to compare the app's numbers with
    assert sorted(team.runs()["user"]) == ["ana", "ana", "ben"]
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    app = open_app(page, jupyter_lab, pg_cluster.url(database, user="ben"))
    everyones_runs_in_history(app, team)
    promotion_needs_the_approvers_own_approval(app, team, pg_cluster, database)
    tracebacks = page.locator(".jp-OutputArea-output", has_text="Traceback (most recent call last)")
    assert tracebacks.count() == 0, tracebacks.first.inner_text()
    assert page_errors == []
