"""Every ``promptlab ...`` command a message suggests exists and runs.

Messages say what to do next; a suggestion that doesn't parse (``promptlab
history --run ID`` before ``--run`` existed) sends the user into a usage
error. Two checks: every suggestion written in the package's message strings
names a real command, action and options; and the suggestions printed in
real scenarios (a run with failures and evaluator errors, a failing check,
an unknown id, a missing history) run, exiting 0 or 1, never 2.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

import promptlab as pl
from promptlab import cli
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model

PACKAGE = Path(pl.__file__).parent

SUGGESTION = re.compile(r"`(promptlab [^`]+)`|\((promptlab [^()]+)\)|^\s+(promptlab .+)$", re.MULTILINE)
"""A command in backticks, in parentheses, or on a line of its own (indented)."""

COMMAND = re.compile(r"promptlab(?: --db \S+)? [a-z][a-z-]*(?: [^\s;]+)*")
"""What a suggested command looks like (prose such as "promptlab ignores them; ..." doesn't)."""


def suggestions(text: str) -> list[str]:
    """The ``promptlab ...`` commands ``text`` suggests (a parenthesis may list several)."""
    found = []
    for match in SUGGESTION.finditer(text):
        command = next(group for group in match.groups() if group)
        found += [part.strip() for part in command.split(", ") if COMMAND.fullmatch(part.strip())]
    return found


# -- the message strings in the code ---------------------------------------------------------


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: documentation, not messages."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _rendered(node: ast.JoinedStr) -> str:
    """An f-string's text with each ``{expression}`` as a placeholder (``{promptlab}`` as the command)."""
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif isinstance(value, ast.FormattedValue):
            named = isinstance(value.value, ast.Name) and value.value.id == "promptlab"
            parts.append("promptlab" if named else "VALUE")
    return "".join(parts)


def message_strings() -> Iterator[tuple[str, str]]:
    """(where, text) for every string literal of the package that isn't a docstring."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        inside = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
        for node in ast.walk(tree):
            where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.JoinedStr):
                yield where, _rendered(node)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip | inside:
                yield where, node.value


MENTION = re.compile(r"\bpromptlab(?: --db \S+)? [a-z][a-z-]*(?: [^\s,;`()]*[^\s,;`().])*")
"""``promptlab`` and a word, then its arguments up to punctuation (a full stop ends it), anywhere in a text."""


def mentions(text: str) -> list[str]:
    """Commands of a known name mentioned anywhere in ``text``, quoted or not ("see promptlab history
    --run ID"); other words after "promptlab" are prose ("promptlab never stores secrets")."""
    known = set(_subcommands(cli.build_parser()))
    return [m.group(0) for m in MENTION.finditer(text) if _command_word(m.group(0)) in known]


def _command_word(command: str) -> str:
    words = command.split()
    return words[3] if words[1:2] == ["--db"] and len(words) > 3 else words[1]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def problems_with(command: str) -> list[str]:
    """Why ``command`` (placeholders allowed) isn't something the CLI takes; [] when it is."""
    words = shlex.split(command)[1:]
    if words[:1] == ["--db"]:
        words = words[2:]
    parser = cli.build_parser()
    if not words:
        return ["no command"]
    commands = _subcommands(parser)
    if words[0] not in commands:
        return [f"no command {words[0]!r}"]
    sub = commands[words[0]]
    actions = _subcommands(sub)
    if actions:
        if len(words) < 2 or words[1] not in actions:
            return [f"{words[0]} has no action {words[1:2]}"]
        sub = actions[words[1]]
    options = sub._option_string_actions
    return [f"{words[0]} has no option {w}" for w in words if w.startswith("--") and w.split("=")[0] not in options]


def test_every_command_the_code_suggests_exists() -> None:
    checked = {}
    for where, text in message_strings():
        for command in suggestions(text) + mentions(text):
            checked[command] = where
            assert not problems_with(command), f"{where} suggests `{command}`: {problems_with(command)}"
    assert any("history --run" in command for command in checked), "the gate's suggestion is among those checked"
    assert any(command.startswith("promptlab db doctor") for command in checked)
    assert len(checked) >= 8, sorted(checked)


def test_the_check_rejects_what_does_not_exist() -> None:
    assert problems_with("promptlab history --run X") == []
    assert problems_with("promptlab history --runs X") == ["history has no option --runs"]
    assert problems_with("promptlab --db h.duckdb histroy") == ["no command 'histroy'"]
    assert problems_with("promptlab db doctr") == ["db has no action ['doctr']"]
    assert suggestions("see `promptlab show 1a2b` (promptlab run FILE.yaml, promptlab check)\n  promptlab runs") == [
        "promptlab show 1a2b",
        "promptlab run FILE.yaml",
        "promptlab check",
        "promptlab runs",
    ]
    said = "failed; see promptlab history --run 1a2b. promptlab never stores keys; promptlab --db x show 3c."
    assert mentions(said) == ["promptlab history --run 1a2b", "promptlab --db x show 3c"]


# -- the suggestions printed in real scenarios --------------------------------------------------

EXPERIMENT = """\
experiment: moods
prompts:
  - name: plain
    template: "Mood of: {{ text }}"
models:
  - {name: echo, provider: fake, fail_if: bad}
data: rows.jsonl
evaluators:
  - {name: code, function: 'json:loads'}
"""

NAME = "answer"
ROWS = [{"text": f"item {i} {'odd' if i % 2 else 'even'}", "expected": f"item {i}"} for i in range(6)]


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with an experiment file (failed calls, evaluator errors) and its data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROMPTLAB_DB", raising=False)
    (tmp_path / "rows.jsonl").write_text('{"text": "a good day"}\n{"text": "a bad day"}\n', encoding="utf-8")
    (tmp_path / "moods.yaml").write_text(EXPERIMENT, encoding="utf-8")
    (tmp_path / "check.jsonl").write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    return tmp_path


def said(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def test_every_suggestion_printed_runs(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    db = str(scene / "h.duckdb")
    outputs.append(said(capsys, "--db", db, "history")[1])  # no history yet: run one first
    outputs.append(said(capsys, "--db", db, "run", "moods.yaml")[1])  # a failed call, evaluator errors
    outputs.append(said(capsys, "--db", db, "show", "zzzz")[1])
    outputs.append(said(capsys, "--db", str(scene / "empty.duckdb"), "run", "moods.yaml", "--dry-run")[1])
    lab = pl.Lab(db)
    steady, flaky = (
        pl.Prompt("Answer: {{ text }}", name=NAME),
        pl.Prompt("Reply: {{ text | replace('odd', 'BROKEN') }}", name=NAME),
    )
    lab.sweep([steady, flaky], fake_model("echo", fail_if="BROKEN"), ROWS, display=NullDisplay())
    lab.promote(NAME, steady.version, label="production")
    code, text = said(
        capsys, "--db", db, "check", "--prompt", NAME, "--data", "check.jsonl", "--evaluators", "contains:expected"
    )
    assert code == 1 and "3 calls failed" in text
    outputs.append(text)
    pl.Lab(scene / "empty.duckdb")
    outputs.append(said(capsys, "--db", str(scene / "empty.duckdb"), "experiments")[1])

    commands = sorted({command for text in outputs for command in suggestions(text)})
    assert len(commands) >= 5, commands
    assert any(" history --run " in command for command in commands), commands
    for command in commands:
        words = [("moods.yaml" if w == "FILE.yaml" else w) for w in shlex.split(command)[1:]]
        if "--db" not in words:
            words = ["--db", db, *words]
        code, text = said(capsys, *words)
        assert code in (0, 1), f"`{command}` exited {code}:\n{text}"
        assert "unrecognized arguments" not in text and "invalid choice" not in text
