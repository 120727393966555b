"""Experiment files: loading, and a clear ExperimentFileError for every mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import promptlab as pl
from promptlab import evals
from promptlab.cli.experiment_file import TOP_LEVEL_KEYS, ExperimentFile, load_experiment
from promptlab.core.model import Model
from promptlab.core.pricing import Price
from promptlab.errors import ExperimentFileError, SecretInConfigError

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"

FULL = """\
experiment: sentiment
description: Classify review sentiment
tags: [classification, demo]
prompts:
  - name: terse
    template: "Sentiment of: {{ text }}\\nAnswer positive or negative."
  - name: chat
    messages:
      - {role: system, content: "You label sentiment."}
      - {role: user, content: "{{ text }}"}
models:
  - {name: echo, provider: fake}
  - {name: upper, provider: fake, temperature: 0, max_tokens: 5, price: [1, 2], api_key_env: MY_KEY}
  - {name: llama3.2, base_url: "http://localhost:11434/v1"}
params: {temperature: [0.0, 0.7], seed: 3}
data: data/reviews.jsonl
repeats: 2
concurrency: 4
timeout: 30
max_retries: 0
tier: restricted
"""

MINIMAL = """\
experiment: demo
prompts:
  - name: p
    template: "{{ text }}"
models: [echo]
data: rows.jsonl
"""


def write(folder: Path, text: str, name: str = "exp.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reviews.jsonl").write_text('{"text": "good"}\n{"text": "bad"}\n')
    (tmp_path / "rows.jsonl").write_text('{"text": "hello"}\n')
    return tmp_path


def error_for(folder: Path, text: str) -> str:
    path = write(folder, text)
    with pytest.raises(ExperimentFileError) as caught:
        load_experiment(path)
    message = str(caught.value)
    assert str(path) in message, "every message names the file"
    return message


def test_loads_every_key(folder: Path) -> None:
    loaded = load_experiment(write(folder, FULL))

    assert isinstance(loaded, ExperimentFile)
    assert loaded.experiment == "sentiment"
    assert loaded.description == "Classify review sentiment"
    assert loaded.tags == ("classification", "demo")
    assert [p.name for p in loaded.prompts] == ["terse", "chat"]
    assert loaded.prompts[0].template == "Sentiment of: {{ text }}\nAnswer positive or negative."
    assert loaded.prompts[1].messages == (("system", "You label sentiment."), ("user", "{{ text }}"))
    echo, upper, llama = loaded.models
    assert echo == Model("echo", provider="fake")
    assert upper.provider == "fake"
    assert dict(upper.params) == {"max_tokens": 5, "temperature": 0}
    assert upper.price == Price(1.0, 2.0)
    assert upper.api_key_env == "MY_KEY"
    assert llama.provider == "openai"
    assert llama.base_url == "http://localhost:11434/v1"
    assert loaded.params == {"temperature": (0.0, 0.7), "seed": (3,)}
    assert loaded.data == folder / "data" / "reviews.jsonl"
    assert (loaded.repeats, loaded.concurrency, loaded.timeout, loaded.max_retries) == (2, 4, 30.0, 0)
    assert loaded.tier == "restricted"


def test_sweep_arguments_leave_unset_options_to_lab_defaults(folder: Path) -> None:
    arguments = load_experiment(write(folder, MINIMAL)).sweep_arguments()

    assert set(arguments) == {"prompts", "models", "data", "params", "repeats", "experiment", "description", "tags"}
    assert arguments["repeats"] == 1
    assert arguments["params"] == {}
    assert arguments["description"] is None
    assert arguments["tags"] is None
    assert arguments["models"][0].name == "echo"

    full = load_experiment(write(folder, FULL)).sweep_arguments()
    assert (full["concurrency"], full["timeout"], full["max_retries"], full["tier"]) == (4, 30.0, 0, "restricted")
    assert full["params"] == {"temperature": [0.0, 0.7], "seed": [3]}
    assert full["tags"] == ["classification", "demo"]


def test_data_path_is_relative_to_the_file_not_the_working_directory(
    folder: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(folder, FULL)
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert load_experiment(path).data == folder / "data" / "reviews.jsonl"


def test_absolute_data_path_outside_the_folder_needs_allowing(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("shared") / "rows.jsonl"
    data.write_text('{"text": "x"}\n')
    path = write(folder, MINIMAL.replace("data: rows.jsonl", f"data: {data}"))
    with pytest.raises(ExperimentFileError, match="--allow-outside"):
        load_experiment(path)
    assert load_experiment(path, allow_outside=[data]).data == data
    assert load_experiment(path, allow_outside=[data.parent]).data == data  # a folder allows what it holds
    inside = write(folder, MINIMAL.replace("data: rows.jsonl", f"data: {folder / 'rows.jsonl'}"))
    assert load_experiment(inside).data == folder / "rows.jsonl"  # absolute, but inside the folder


def test_a_prompt_may_be_a_bare_template(folder: Path) -> None:
    loaded = load_experiment(
        write(folder, MINIMAL.replace('  - name: p\n    template: "{{ text }}"', '  - "{{ text }}"'))
    )
    assert loaded.prompts[0].template == "{{ text }}"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExperimentFileError, match=r"nope\.yaml: no such experiment file"):
        load_experiment(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_line(folder: Path) -> None:
    message = error_for(folder, "experiment: demo\nprompts:\n  - name: p\n   template: x\nmodels: [echo]\n")
    assert "not valid YAML at line 4" in message
    assert "indentation" in message


def test_a_key_given_twice_is_refused(folder: Path) -> None:
    message = error_for(folder, MINIMAL + "models: [upper]\n")
    assert "not valid YAML" in message
    assert "'models' appears twice (lines 5 and 7)" in message


def test_empty_file(folder: Path) -> None:
    assert "the file is empty; it needs the keys experiment, prompts, models, data" in error_for(folder, "")


def test_top_level_must_be_a_mapping(folder: Path) -> None:
    assert "must be a mapping of keys" in error_for(folder, "- experiment: demo\n")


@pytest.mark.parametrize("key", ["experiment", "prompts", "models", "data"])
def test_missing_required_key(folder: Path, key: str) -> None:
    lines = MINIMAL.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    message = error_for(folder, "".join(lines[:start] + lines[end:]))
    assert f": {key}: required key missing" in message
    assert "needs experiment, prompts, models, data" in message


def test_unknown_key_suggests_the_right_one_and_lists_all(folder: Path) -> None:
    message = error_for(folder, MINIMAL + "repeat: 3\n")
    assert ": repeat: unknown key; did you mean 'repeats'?" in message
    assert "allowed keys: " + ", ".join(TOP_LEVEL_KEYS) in message


def test_unknown_key_in_a_prompt(folder: Path) -> None:
    message = error_for(folder, MINIMAL.replace("    template:", "    tempalte:"))
    assert "prompts[0].tempalte: unknown key; did you mean 'template'?" in message
    assert "allowed keys: name, template, messages" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("experiment: demo", "experiment: no", "experiment: must be a non-empty string, got boolean False"),
        ("experiment: demo", "experiment: demo\ndescription: 3", "description: must be a string, got number 3"),
        ("experiment: demo", "experiment: demo\ntags: demo", "tags: must be a list of strings"),
        ("models: [echo]", "models: echo", "models: must be a non-empty list, got string 'echo'"),
        ("models: [echo]", "models: []", "models: must be a non-empty list"),
        ("models: [echo]", "models: [42]", "models[0]: must be a model name or a mapping with a name, got number 42"),
        ("data: rows.jsonl", "data: [rows.jsonl]", "data: must be a non-empty string, got list"),
        ("data: rows.jsonl", "data: rows.jsonl\nrepeats: 0", "repeats: must be a whole number ≥ 1, got number 0"),
        ("data: rows.jsonl", "data: rows.jsonl\nrepeats: true", "repeats: must be a whole number ≥ 1, got boolean"),
        ("data: rows.jsonl", "data: rows.jsonl\nconcurrency: four", "concurrency: must be a whole number ≥ 1"),
        ("data: rows.jsonl", "data: rows.jsonl\ntimeout: -1", "timeout: must be a number of seconds > 0"),
        ("data: rows.jsonl", "data: rows.jsonl\nmax_retries: -1", "max_retries: must be a whole number ≥ 0"),
        ("data: rows.jsonl", "data: rows.jsonl\nparams: [temperature]", "params: must be a mapping of parameter"),
        ("data: rows.jsonl", "data: rows.jsonl\nparams: {temperature: []}", "params.temperature: the list of values"),
    ],
)
def test_wrong_types(folder: Path, old: str, new: str, expected: str) -> None:
    assert expected in error_for(folder, MINIMAL.replace(old, new, 1))


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("  - name: p\n", "prompts[0]: give exactly one of template (text) or messages"),
        ('  - name: p\n    template: x\n    messages: [{content: "y"}]\n', "give exactly one of template"),
        ("  - name: p\n    template: ''\n", "prompts[0].template: must be a non-empty string"),
        ("  - name: [p]\n    template: x\n", "prompts[0].name: must be a non-empty string"),
        ("  - name: p\n    messages: hello\n", "prompts[0].messages: must be a non-empty list"),
        ("  - name: p\n    template: '{{ text '\n", "prompts[0]: template syntax error on line 1"),
        ("  - name: p\n    messages: [{role: robot, content: hi}]\n", "prompts[0]: message 0 has role 'robot'"),
        ("  - 7\n", "prompts[0]: must be a mapping with name and template (or messages), got number 7"),
    ],
)
def test_bad_prompts(folder: Path, prompt: str, expected: str) -> None:
    text = MINIMAL.replace('  - name: p\n    template: "{{ text }}"\n', prompt)
    assert expected in error_for(folder, text)


def test_model_mapping_without_name(folder: Path) -> None:
    message = error_for(folder, MINIMAL.replace("models: [echo]", "models:\n  - {provider: fake, temperature: 0}"))
    assert "models[0]: this model has no name; add one" in message


def test_model_with_a_secret_is_refused_by_model(folder: Path) -> None:
    path = write(folder, MINIMAL.replace("models: [echo]", "models:\n  - {name: gpt-4o-mini, api_key: sk-abc}"))
    with pytest.raises(ExperimentFileError) as caught:
        load_experiment(path)
    message = str(caught.value)
    assert str(path) in message
    assert "models[0]: Model parameter 'api_key' looks like a secret" in message
    assert "sk-abc" not in message
    assert isinstance(caught.value.__cause__, SecretInConfigError)


def test_model_with_a_bad_price(folder: Path) -> None:
    message = error_for(folder, MINIMAL.replace("models: [echo]", "models:\n  - {name: echo, price: 3}"))
    assert "models[0].price: must be [input, output] USD per million tokens" in message


def test_model_errors_from_model_itself_name_the_entry(folder: Path) -> None:
    message = error_for(folder, MINIMAL.replace("models: [echo]", "models:\n  - echo\n  - {name: echo, n: 3}"))
    assert "models[1]: n must be 1" in message


def test_data_file_missing(folder: Path) -> None:
    message = error_for(folder, MINIMAL.replace("data: rows.jsonl", "data: data/missing.jsonl"))
    assert f"data: data file {folder / 'data' / 'missing.jsonl'} does not exist" in message
    assert "relative to the experiment file's folder" in message


def test_evaluators_as_specs_or_mappings(folder: Path) -> None:
    text = MINIMAL + textwrap.dedent("""\
        evaluators:
          - icontains:expected
          - max_length:200
          - {name: one_of, labels: [positive, negative], label: one_word}
        """)
    loaded = load_experiment(write(folder, text))

    assert [e.label for e in loaded.evaluators] == ["icontains:expected", "max_length:200", "one_word"]
    assert evals.spec(loaded.evaluators[2])["args"]["labels"] == ["positive", "negative"]
    assert loaded.sweep_arguments()["evaluators"] == list(loaded.evaluators)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ("[nope:expected]", "evaluators[0]: unknown evaluator 'nope'"),
        ("[{labels: [a, b]}]", "evaluators[0].name: each evaluator mapping needs a name"),
        ("[{name: one_of, colours: [a]}]", "evaluators[0]: wrong arguments for the evaluator"),
        ("[{name: judge, rubric: kind}]", "judge needs a model object; add it in Python with pl.evals.judge"),
        ("[icontains:expected, 3]", "evaluators[1]: an evaluator is a spec such as icontains:expected"),
        ("[icontains:expected, icontains:expected]", "evaluators: two evaluators share the label"),
        ("icontains:expected", "evaluators: must be a non-empty list"),
    ],
)
def test_bad_evaluators_name_the_entry(folder: Path, entries: str, expected: str) -> None:
    with pytest.raises(ExperimentFileError, match=r"exp\.yaml") as error:
        load_experiment(write(folder, MINIMAL + f"evaluators: {entries}\n"))
    assert expected in str(error.value)


@pytest.mark.parametrize("name", ["summarize.yaml", "sentiment.yaml"])
def test_bundled_experiments_load(name: str) -> None:
    loaded = load_experiment(EXPERIMENTS / name)

    assert len(loaded.prompts) == 2
    assert {p.is_chat for p in loaded.prompts} == {False, True}
    assert [m.name for m in loaded.models] == ["smollm2"]
    assert loaded.models[0].params["temperature"] == 0
    assert loaded.data.is_file()
    rows = loaded.data.read_text(encoding="utf-8").splitlines()
    assert 8 <= len(rows) <= 16
    for prompt in loaded.prompts:
        assert prompt.variables == {"text"}
    assert loaded.evaluators, "the demo scores its trials against the expected column"


def test_a_code_evaluator_beside_the_file_imports_from_anywhere(
    folder: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"checks_{folder.name.replace('-', '_')}"  # a name no other test imported
    (folder / f"{module}.py").write_text("def is_short(output, row):\n    return len(output) < 10\n")
    (folder / "rows.jsonl").write_text('{"text": "hi"}\n{"text": "a rather long input"}\n')
    text = MINIMAL.replace("models: [echo]", "models: [{name: echo, provider: fake}]") + textwrap.dedent(f"""\
        evaluators:
          - {{name: code, function: "{module}:is_short"}}
        """)
    path = write(folder, text)
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # not the file's folder, and no PYTHONPATH
    loaded = load_experiment(path)
    assert [e.label for e in loaded.evaluators] == ["is_short"]
    lab = pl.Lab(folder / "h.duckdb")
    run = lab.sweep(**loaded.sweep_arguments(), display=None)
    assert sorted(run.df["score_is_short"]) == [0.0, 1.0]


def test_the_bundled_retrieval_experiment_loads() -> None:
    loaded = load_experiment(EXPERIMENTS / "harbor_rag.yaml")
    assert [r.label for r in loaded.retrievers] == [
        "bm25 k=3",
        "embeddings(smollm2) k=3",
        "hybrid(bm25+embeddings(smollm2)) k=3",
    ]
    assert {r.corpus.version for r in loaded.retrievers} == {loaded.retrievers[0].corpus.version}
    assert len(loaded.retrievers[0].corpus) == 286
    assert [e.label for e in loaded.evaluators] == ["recall@3", "mrr", "answered"]
    assert loaded.sweep_arguments()["retrievers"] == list(loaded.retrievers)
