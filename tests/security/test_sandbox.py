"""Templates from other people can't run code (issue 10, item 1).

A corpus of known Jinja2 sandbox escapes, each rendered through every way a
template reaches promptlab: ``Prompt.render``, ``pl.load_prompt`` from a
history and from an exported file, an experiment file, and ``promptlab
check``. The escapes that would run a command try to create a canary file;
the test asserts the file never appears, not only what the error says.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

import promptlab as pl
from promptlab.cli import main
from promptlab.errors import TemplateError
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model


def code_payloads(canary: Path) -> list[str]:
    """Escapes that, unsandboxed, run ``touch CANARY``."""
    touch = f"touch {canary}"
    return [
        f"{{{{ cycler.__init__.__globals__.os.popen('{touch}').read() }}}}",
        f"{{{{ joiner.__init__.__globals__.os.popen('{touch}').read() }}}}",
        f"{{{{ namespace.__init__.__globals__.os.popen('{touch}').read() }}}}",
        f"{{{{ lipsum.__globals__['os'].popen('{touch}').read() }}}}",
        f"{{{{ lipsum.__globals__.__builtins__.__import__('os').system('{touch}') }}}}",
        f"{{{{ self.__init__.__globals__.__builtins__.__import__('os').system('{touch}') }}}}",
        f"{{{{ lipsum|attr('__globals__')|attr('__getitem__')('os')|attr('system')('{touch}') }}}}",
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
        f"{{{{ c(['touch', '{canary}']) }}}}{{% endif %}}{{% endfor %}}",
        f"{{% set g = cycler.__init__.__globals__ %}}{{{{ g.os.system('{touch}') }}}}",
        f"{{{{ range.__globals__.__builtins__.__import__('os').system('{touch}') }}}}",
    ]


READ_ONLY_PAYLOADS = [
    "{{ self._TemplateReference__context.get_all() }}",
    "{{ self._TemplateReference__context }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum.__globals__ }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ '{0.__class__}'.format(items) }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(cycler) }}",
    "{{ '{x.__class__}'.format_map({'x': items}) }}",
    "{{ items.__class__.__base__.__subclasses__() }}",
    "{{ items|attr('__class__') }}",
    "{{ items.append(1) }}",
    "{{ items.pop() }}",
    "{{ table.update({'a': 1}) }}",
    "{{ table.clear() }}",
    "{% for i in range(10**9) %}{% endfor %}",
    "{% for i in range(100001) %}{% endfor %}",
    "{{ 10 ** 100000000 }}",
    "{{ 'x' * 10**9 }}",
    "{{ items * 10**8 }}",
]
"""Escapes that reach the context, Python objects or the values given, or would build huge values."""

UNDEFINED_PAYLOADS = ["{{ request }}", "{{ config }}", "{{ config.items() }}", "{{ request.application }}"]
"""Names from web frameworks' contexts: not there at all (a missing variable)."""


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    return tmp_path / "canary-the-template-ran-code"


def values() -> dict[str, object]:
    return {"items": [1, 2], "table": {"k": "v"}, "text": "go"}


@pytest.mark.parametrize("index", range(10))
def test_escapes_that_would_run_a_command_are_refused(canary: Path, index: int) -> None:
    payload = code_payloads(canary)[index]
    with pytest.raises(TemplateError, match="unsafe"):
        pl.Prompt(payload, name="evil").render(values())
    assert not canary.exists()


@pytest.mark.parametrize("payload", READ_ONLY_PAYLOADS)
def test_escapes_that_would_read_or_change_things_are_refused(payload: str) -> None:
    given = values()
    started = time.perf_counter()
    with pytest.raises(TemplateError, match="unsafe"):
        pl.Prompt(payload, name="evil").render(given)
    assert time.perf_counter() - started < 5, "refused promptly, not after building the value"
    assert given == values(), "the values given are never changed"


@pytest.mark.parametrize("payload", UNDEFINED_PAYLOADS)
def test_framework_globals_are_not_there(payload: str) -> None:
    with pytest.raises(TemplateError, match="not given"):
        pl.Prompt(payload, name="evil").render(values())


def test_ordinary_templates_still_render() -> None:
    prompt = pl.Prompt(
        "{% set ns = namespace(n=0) %}{% for w in items %}{% set ns.n = ns.n + w %}{% endfor %}"
        "{{ text|upper }} {{ ns.n }} {{ table.k }} {{ items|join(',') }} {{ 2 ** 10 }} {{ 'ab' * 2 }}"
        "{% for i in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}\n",
        name="fine",
    )
    assert prompt.render(values())[0]["content"] == "GO 3 v 1,2 1024 abababa\n"


# -- every way a template reaches promptlab ----------------------------------------------


def hidden(payload: str) -> str:
    """The payload behind a condition: harmless in the sweep that recorded it
    (text is "stay"), run later when someone renders it with text "go"."""
    return f"Answer: {{{{ text }}}}{{% if text == 'go' %}}{payload}{{% endif %}}"


@pytest.fixture
def planted(tmp_path: Path, canary: Path) -> tuple[pl.Lab, pl.Prompt]:
    """A history in which production points at a template with a hidden escape."""
    lab = pl.Lab(tmp_path / "team.duckdb")
    prompt = pl.Prompt(hidden(code_payloads(canary)[0]), name="answer")
    lab.sweep([prompt], fake_model("echo"), [{"text": "stay", "expected": "stay"}], display=NullDisplay())
    lab.promote("answer", prompt.version, label="production")
    assert not canary.exists()
    return lab, prompt


def test_a_prompt_loaded_from_a_history_runs_no_code(planted: tuple[pl.Lab, pl.Prompt], canary: Path) -> None:
    lab, prompt = planted
    loaded = pl.load_prompt("answer", label="production", db=lab.path)
    assert loaded.version == prompt.version
    with pytest.raises(TemplateError, match="unsafe"):
        loaded.render({"text": "go"})
    assert not canary.exists()


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".py"])
def test_an_exported_prompt_file_runs_no_code(
    planted: tuple[pl.Lab, pl.Prompt], canary: Path, tmp_path: Path, suffix: str
) -> None:
    lab, _ = planted
    path = lab.export_prompt("answer", tmp_path / f"answer{suffix}")
    loaded = pl.load_prompt(path=path)
    with pytest.raises(TemplateError, match="unsafe"):
        loaded.render({"text": "go"})
    assert not canary.exists()


def test_promptlab_check_runs_no_code_and_fails_as_a_setup_error(
    planted: tuple[pl.Lab, pl.Prompt], canary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab, _ = planted
    data = tmp_path / "ci.jsonl"
    data.write_text(json.dumps({"text": "go", "expected": "go"}) + "\n", encoding="utf-8")
    code = main(
        ["--db", str(lab.path), "check", "--prompt", "answer", "--data", str(data), "--evaluators", "contains:expected"]
    )
    assert code == 2, "a template that tries to escape is a setup error, never a pass"
    assert "unsafe" in capsys.readouterr().err
    assert not canary.exists()


def test_an_experiment_file_runs_no_code(tmp_path: Path, canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rows.jsonl").write_text('{"text": "go"}\n', encoding="utf-8")
    experiment = tmp_path / "exp.yaml"
    template = json.dumps(code_payloads(canary)[0])  # JSON strings are YAML strings
    experiment.write_text(
        textwrap.dedent(f"""\
            experiment: pr-42
            prompts:
              - name: evil
                template: {template}
            models:
              - {{name: echo, provider: fake}}
            data: rows.jsonl
            """),
        encoding="utf-8",
    )
    assert main(["--db", str(tmp_path / "h.duckdb"), "run", str(experiment)]) == 2
    assert "unsafe" in capsys.readouterr().err
    assert not canary.exists()
