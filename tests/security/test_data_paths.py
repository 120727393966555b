"""Experiment files read data only inside their own folder (issue 10, item 3).

An experiment file from a pull request named ``data/users.tsv``, a symlink
to ``/etc/passwd``, or an absolute path to a credentials file: the rows were
stored in the shared history and sent to the model. Now ``data`` resolves
(symlinks followed) inside the file's folder unless the running user passes
``--allow-outside PATH``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptlab.cli import main
from promptlab.cli.experiment_file import load_experiment
from promptlab.errors import ExperimentFileError

SECRET_LINE = "aws_secret_access_key=planted-credentials-0123456789"


def experiment(folder: Path, data: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "exp.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            experiment: pr-42
            prompts: ["{{{{ text }}}}"]
            models: [{{name: echo, provider: fake}}]
            data: {data}
            """),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    """A credentials file outside the experiment's folder."""
    path = tmp_path / "home" / ".aws" / "credentials.csv"
    path.parent.mkdir(parents=True)
    path.write_text(f"text\n{SECRET_LINE}\n", encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path / "repo" / "experiments"


def refusal(path: Path, **options: object) -> str:
    with pytest.raises(ExperimentFileError) as caught:
        load_experiment(path, **options)  # type: ignore[arg-type]
    return str(caught.value)


def test_a_symlink_out_of_the_folder_is_refused(repo: Path) -> None:
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "users.tsv").symlink_to("/etc/passwd")
    message = refusal(experiment(repo, "data/users.tsv"))
    assert "data/users.tsv (which resolves to /etc/passwd)" in message
    assert "outside the experiment file's folder" in message and "--allow-outside /etc/passwd" in message
    assert "root:" not in message, "nothing of the file is shown"


def test_an_absolute_path_to_a_credentials_file_is_refused(repo: Path, credentials: Path) -> None:
    message = refusal(experiment(repo, str(credentials)))
    assert str(credentials) in message and "--allow-outside" in message
    assert SECRET_LINE not in message


@pytest.mark.parametrize("escape", ["../../home/.aws/credentials.csv", "data/../../../home/.aws/credentials.csv"])
def test_dot_dot_escapes_are_refused(repo: Path, credentials: Path, escape: str) -> None:
    assert f"--allow-outside {credentials}" in refusal(experiment(repo, escape))


def test_a_symlinked_folder_out_of_the_folder_is_refused(repo: Path, credentials: Path) -> None:
    repo.mkdir(parents=True)
    (repo / "data").symlink_to(credentials.parent)
    assert "outside the experiment file's folder" in refusal(experiment(repo, "data/credentials.csv"))


def test_data_inside_the_folder_is_fine_even_through_a_symlink(repo: Path) -> None:
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "rows.jsonl").write_text('{"text": "hi"}\n', encoding="utf-8")
    (repo / "latest.jsonl").symlink_to(repo / "data" / "rows.jsonl")
    assert load_experiment(experiment(repo, "latest.jsonl")).data == (repo / "data" / "rows.jsonl").resolve()


def test_allow_outside_lets_the_user_name_a_file_or_folder(repo: Path, credentials: Path) -> None:
    path = experiment(repo, str(credentials))
    assert load_experiment(path, allow_outside=[credentials]).data == credentials.resolve()
    assert load_experiment(path, allow_outside=[credentials.parent]).data == credentials.resolve()
    assert "outside" in refusal(path, allow_outside=[repo])  # allowing something else doesn't


def test_promptlab_run_refuses_then_runs_with_allow_outside(
    repo: Path, credentials: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = experiment(repo, "../../home/.aws/credentials.csv")
    db = tmp_path / "h.duckdb"
    assert main(["--db", str(db), "run", str(path)]) == 2
    error = capsys.readouterr().err
    assert "--allow-outside" in error and SECRET_LINE not in error
    assert not db.exists(), "nothing read, nothing recorded"

    assert main(["--db", str(db), "run", str(path), "--allow-outside", str(credentials)]) == 0
    assert "1 trials: 1 ok" in capsys.readouterr().out
