"""The privacy audit log as the History view shows it (``lab.privacy_log()``):
the newest events first, each in one line that says who did what to which
tier, for which use, model or export, and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from promptlab.ui.common import escape, muted, present

SHOWN = 20
"""How many of the newest events the view lists."""

_VERBS = {
    "request": "asked to send",
    "approve": "approved",
    "refuse": "was refused",
    "use": "used an approval to send",
    "export": "exported",
    "forget": "erased data",
    "prune": "pruned old production calls",
}


def privacy_lines(log: pd.DataFrame) -> str:
    """The newest ``SHOWN`` events of ``log``, a line each, as HTML."""
    if log.empty:
        return muted("no approvals, refusals, exports or erasures yet (lab.privacy_log())")
    lines = [_line(event) for event in log.tail(SHOWN).iloc[::-1].to_dict("records")]
    more = len(log) - SHOWN
    return "<br>".join(lines) + (f"<br>{muted(f'… and {more} older: lab.privacy_log()')}" if more > 0 else "")


def _text(event: Mapping[Any, Any], key: str) -> str:
    value = event.get(key)
    return escape(str(value)) if present(value) else ""


def _line(event: Mapping[Any, Any]) -> str:
    when = pd.Timestamp(event["created_at"]).strftime("%Y-%m-%d %H:%M")
    action = str(event["action"])
    target = f"model <b>{_text(event, 'model')}</b>" if _text(event, "model") else f"a {_text(event, 'export')} export"
    what = f"<b>{_text(event, 'tier')}</b> data of {_text(event, 'use') or 'its experiments'} to {target}"
    if action in ("forget", "prune"):
        what = ""
    elif action == "export":
        what = f"{_text(event, 'tier')} data as {target.removeprefix('a ')}"
    who = _text(event, "user")
    if action == "approve":
        who = f"{_text(event, 'approved_by')} (asked by {_text(event, 'requested_by')})"
    reason = f" · “{_text(event, 'reason')}”" if _text(event, "reason") else ""
    expires = event.get("expires_at")
    ends = f" · until {pd.Timestamp(expires):%Y-%m-%d %H:%M} UTC" if present(expires) else ""
    return f"{when} · {who} {_VERBS.get(action, escape(action))} {what}{reason}{ends}"
