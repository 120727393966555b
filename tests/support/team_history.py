"""The history a team has after a week, for the app's tests (STYLE.md 16).

The widget tests once ran on one prompt and one model, and the app crashed
for everyone who had run a prompt on two (issue 11). ``fill_team_history``
records what a week of a small team looks like, with fake and scripted
providers only (about a second, no network, no real model):

- four people: ana and ben run sweeps, kim reviews, lee approves;
- three prompt names with 1–3 versions each (``summarize`` has three,
  ``classify`` two, ``greet`` one), plain text and chat messages;
- three models on one run (``echo``, ``upper``, ``flaky``, priced, so costs
  show), a temperature grid, two repeats;
- failed calls: ``flaky`` refuses every input that mentions a storm;
- evaluators: ``contains``, ``one_of``, a ``code`` evaluator that raises on
  some outputs, and a judge (``grader``) whose grades come with an
  explanation, and which answers one output in words (an evaluator error);
  its calls are recorded as judge trials;
- feedback: two people voting the same trial different ways, a reviewer who
  changed their mind, a withdrawn vote, a correction, comments, an action;
- labels, under a ``promptlab.toml`` that protects ``production``: a free
  move of ``staging``, two approved promotions, an approved rollback;
- a run answered entirely from the history (cached);
- production traffic: an app (``summarize-app``) serving ``summarize``'s
  ``production`` and ``staging`` versions, logged with ``pl.logger``: calls
  from three end users, a failed call, and their feedback sent by the app's
  own request ids (a copied answer, an edited one with its correction);
- the privacy team's part: an approval for restricted support data to go to
  a hosted model (pat approves ana's request), a refused self-approval, and
  an export of the summaries with its reason, all in the privacy log;
- a retrieval sweep (``rag``): the team handbook searched two ways (BM25
  over passages, BM25 over whole documents) × two prompts (``{{ context }}``
  and a loop over ``{{ passages }}``) × ``echo`` and ``flaky`` (which fails
  on the storm question), scored on recall and on the answer;
- optionally (``interrupted=True``) a run whose process died mid-sweep.

``TeamHistory`` says where everything is, so tests assert on it by name.
Building it takes about a second; the fixtures in ``conftest.py`` build it
once per session and hand each test a copy of the files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import promptlab as pl
from promptlab.errors import PermanentError
from promptlab.providers import Completion, Request
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider, fake_model

POLICY = '[labels]\nprotected = ["production"]\napprovers = ["lee"]\n\n[privacy.approvers]\nrestricted = ["pat"]\n'

ROWS = [
    {"text": "The kettle boils fast and looks good on the counter", "expected": "kettle"},
    {"text": "A storm knocked the power out, so the fridge thawed", "expected": "storm"},
    {"text": "Delivery was late but the chair is sturdy and comfortable", "expected": "chair"},
    {"text": "The lamp flickers and support never answered my emails", "expected": "lamp"},
]
"""Product reviews; ``flaky`` fails on the one that mentions a storm."""

NAMES = [{"name": n} for n in ("Ada", "Grace", "Linus")]

SUMMARIZE = [
    pl.Prompt("Summarize: {{ text }}", name="summarize"),
    pl.Prompt(
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Summarize briefly: {{ text }}"}],
        name="summarize",
    ),
    pl.Prompt("Summarize in one sentence, naming the product: {{ text }}", name="summarize"),
]
CLASSIFY = [
    pl.Prompt("Positive or negative? {{ text }}", name="classify"),
    pl.Prompt(
        [{"role": "system", "content": "Answer positive or negative."}, {"role": "user", "content": "{{ text }}"}],
        name="classify",
    ),
]
GREET = pl.Prompt("Say hello to {{ name }}", name="greet")

HANDBOOK = [
    {"id": "returns", "text": "Returns are accepted within 30 days with a receipt.\n\nRefunds take five days."},
    {"id": "storms", "text": "After a storm, check the fridge: food kept above 5 degrees for 4 hours is thrown out."},
    {"id": "warranty", "text": "Kettles and lamps carry a two-year warranty; chairs carry five years."},
    {"id": "delivery", "text": "Late deliveries earn a 10% voucher. Couriers call an hour before arriving."},
    {"id": "support", "text": "Support answers emails within two working days; call for anything urgent."},
]
QUESTIONS = [
    {"question": "How long is the warranty on a kettle?", "relevant_ids": ["warranty"], "expected": "two-year"},
    {"question": "What happens to fridge food after a storm?", "relevant_ids": ["storms"], "expected": "thrown"},
    {"question": "What do I get for a late delivery?", "relevant_ids": ["delivery"], "expected": "voucher"},
]
ANSWER = [
    pl.Prompt("Answer from the handbook.\n\n{{ context }}\n\nQuestion: {{ question }}", name="answer"),
    pl.Prompt(
        "{% for p in passages %}[{{ p.doc_id }}] {{ p.text }}\n{% endfor %}Question: {{ question }}", name="answer"
    ),
]

FLAKY_PROVIDER = "team-flaky"
GRADER_PROVIDER = "team-grader"
JUDGE_RUBRIC = "Is it one clear sentence?"
JUDGE_LABEL = "judge:" + JUDGE_RUBRIC
UNGRADEABLE = "fridge"
"""The grader answers in words, with no score, for outputs that mention this."""


class Flaky:
    """Answers like ``upper`` would, in lower case; refuses inputs about storms."""

    async def complete(self, request: Request) -> Completion:
        text = next((m["content"] for m in reversed(request.messages) if m["role"] == "user"), "")
        if "storm" in text:
            raise PermanentError("the endpoint refused the request: content filter (storm)", status=400)
        words = text.split()
        return Completion(
            output=" ".join(words[-6:]).lower(),
            finish_reason="stop",
            prompt_tokens=len(words),
            completion_tokens=6,
            request_id="flaky",
            raw={},
        )

    async def aclose(self) -> None:
        """Shared: nothing to close."""


def grade(messages: Sequence[Mapping[str, str]], model: pl.Model) -> str:
    """The grader's answer: a high score for quiet outputs, a low one for shouting,
    and no score at all (words only) for outputs about a fridge."""
    response = messages[-1]["content"].split("Response:\n")[-1].split("\n\nGrade the response")[0]
    if UNGRADEABLE in response.lower():
        return "It reads well enough, I suppose."
    if response.isupper():
        return '{"score": 3, "explanation": "shouted in capitals"}'
    return '{"score": 8, "explanation": "fine, one sentence"}'


def short_enough(output: str | None, row: Mapping[str, Any]) -> float:
    """A code evaluator with a bug: it can't cope with an output that names a lamp."""
    if output is not None and "lamp" in output.lower():
        raise ValueError("lamp outputs are not handled yet")
    return 1.0 if output is not None and len(output) < 60 else 0.0


def register_providers() -> None:
    """Register ``flaky`` and the judge's endpoint (idempotent)."""
    pl.register_provider(FLAKY_PROVIDER, Flaky())
    pl.register_provider(GRADER_PROVIDER, FakeProvider(grade))


def models() -> dict[str, pl.Model]:
    """The models the team sweeps over, and the judge's."""
    return {
        "echo": fake_model("echo", price=(0.15, 0.6)),
        "upper": fake_model("upper", price=(2.5, 10.0)),
        "flaky": pl.Model("flaky", provider=FLAKY_PROVIDER, price=(0.5, 1.5)),
        "grader": pl.Model("grader", provider=GRADER_PROVIDER, price=(1.0, 2.0)),
    }


@dataclass(frozen=True)
class TeamHistory:
    """Where things are in a filled history."""

    path: Path
    """The DuckDB file (``promptlab.toml`` beside it)."""

    runs: dict[str, str] = field(default_factory=dict)
    """Run ids by role: ``first_look`` (ana), ``grid`` (ben), ``sentiment``, ``greetings``, ``rerun`` (kim,
    all cached), ``production`` (the app's logged calls) and ``crashed`` (interrupted, only with
    ``interrupted=True``)."""

    versions: dict[str, list[str]] = field(default_factory=dict)
    """Prompt versions by name, oldest first."""

    trials: dict[str, str] = field(default_factory=dict)
    """Trial ids by role: ``disputed`` (ana 👎 after 👍, ben 👍), ``agreed`` (ana and ben 👍),
    ``corrected``, ``withdrawn`` (kim's vote withdrawn), ``failed``, ``judged``, ``eval_error``; production
    calls: ``served`` (copied, 👍 from its end user), ``edited`` (👎 with a correction), ``refused`` (failed)."""

    def lab(self) -> pl.Lab:
        """A ``Lab`` on the file."""
        return pl.Lab(self.path)

    def copy_to(self, folder: Path) -> TeamHistory:
        """The same history in ``folder`` (files copied; nothing may be writing)."""
        shutil.copytree(self.path.parent, folder)
        return replace(self, path=folder / self.path.name)


@contextlib.contextmanager
def as_user(name: str) -> Iterator[None]:
    """Record what happens inside as ``name`` (``PROMPTLAB_USER``)."""
    before = os.environ.get("PROMPTLAB_USER")
    os.environ["PROMPTLAB_USER"] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PROMPTLAB_USER", None)
        else:
            os.environ["PROMPTLAB_USER"] = before


def _sweeps(lab: pl.Lab) -> dict[str, pl.Run]:
    m = models()
    judge = pl.evals.judge(JUDGE_RUBRIC, model=m["grader"], threshold=0.5)
    quiet = NullDisplay()
    runs = {}
    with as_user("ana"):
        runs["first_look"] = lab.sweep(
            SUMMARIZE[0],
            [m["echo"], m["upper"]],
            ROWS,
            evaluators=[pl.evals.contains("expected")],
            experiment="summaries",
            tags=["news", "weekly"],
            display=quiet,
        )
    with as_user("ben"):
        runs["grid"] = lab.sweep(
            SUMMARIZE[1:],
            [m["echo"], m["upper"], m["flaky"]],
            ROWS,
            params={"temperature": [0.0, 0.7]},
            repeats=2,
            evaluators=[pl.evals.contains("expected"), judge, pl.evals.code(short_enough)],
            experiment="summaries",
            display=quiet,
            cache=False,  # judged cells each look up the cache: 6 s, not 0.5
        )
    with as_user("ana"):
        runs["sentiment"] = lab.sweep(
            CLASSIFY,
            [m["echo"], m["flaky"]],
            ROWS,
            evaluators=[pl.evals.one_of(["positive", "negative"])],
            experiment="sentiment",
            tags=["support"],
            display=quiet,
        )
        runs["greetings"] = lab.sweep(GREET, m["echo"], NAMES, experiment="greetings", display=quiet)
        handbook = pl.Corpus("handbook", HANDBOOK)
        runs["rag"] = lab.sweep(
            ANSWER,
            [m["echo"], m["flaky"]],
            QUESTIONS,
            retrievers=[
                pl.retrievers.bm25(handbook, k=2, chunking=pl.Chunking(by="paragraph")),
                pl.retrievers.bm25(handbook, k=1, chunking=pl.Chunking(by="document"), name="whole documents"),
            ],
            evaluators=[pl.evals.retrieval_recall(k=1), pl.evals.icontains("expected")],
            experiment="handbook-qa",
            display=quiet,
        )
    with as_user("kim"):  # the first look again, answered from the history
        runs["rerun"] = lab.sweep(
            SUMMARIZE[0], [m["echo"], m["upper"]], ROWS, experiment="summaries", resume=False, display=quiet
        )
    return runs


def _feedback(lab: pl.Lab, grid: pl.Run) -> dict[str, str]:
    # in a fixed order (the calls finish in any order): each role is the same trial in every build
    trials = grid.df.assign(temperature=grid.df["params"].map(lambda p: p["temperature"]))
    trials = trials.sort_values(["prompt_version", "model", "temperature", "row_index", "repeat"])
    ok = trials[trials["error_type"].isna() & (trials["model"] == "echo")]
    disputed, agreed, corrected, withdrawn = (str(t) for t in ok["trial_id"].iloc[:4])
    lab.feedback(agreed, vote="up", user="ana")
    lab.feedback(agreed, vote="up", user="ben")
    lab.feedback(agreed, action="copied", user="ana")
    lab.feedback(disputed, vote="up", user="ana")
    lab.feedback(disputed, vote="up", user="ben")
    lab.feedback(disputed, vote="down", user="ana", comment="too long after all")  # ana changed her mind
    lab.feedback(corrected, correction="The fridge thawed in a storm power cut.", user="kim")
    lab.feedback(corrected, comment="name the product", user="kim")
    lab.feedback(corrected, comment="agreed", user="ben")
    lab.feedback(withdrawn, vote="down", user="kim")
    lab.feedback(withdrawn, vote=0, user="kim")
    failed = trials[trials["error_type"].notna()]
    lamp = trials["eval_error_short_enough"].notna() if "eval_error_short_enough" in trials else trials["output"].isna()
    return {
        "disputed": disputed,
        "agreed": agreed,
        "corrected": corrected,
        "withdrawn": withdrawn,
        "failed": str(failed["trial_id"].iloc[0]),
        "judged": str(ok["trial_id"].iloc[0]),
        "eval_error": str(trials.loc[lamp, "trial_id"].iloc[0]),
    }


def _labels(lab: pl.Lab) -> None:
    v1, v2, v3 = (p.version for p in SUMMARIZE)
    with as_user("ben"):
        lab.promote("summarize", v1, "staging")
        lab.promote("summarize", v2, "staging", note="terser")
    with as_user("ana"):
        lab.promote("summarize", v2, "production", approved_by="lee", note="wins on contains")
        lab.promote("summarize", v3, "production", approved_by="lee", note="names the product")
        lab.rollback("summarize", "production", approved_by="lee", note="v3 is too long for the app")
        lab.promote("classify", CLASSIFY[1].version, "production", approved_by="lee")


def _production(lab: pl.Lab) -> dict[str, str]:
    """A day of an app serving ``summarize`` by label, and its users' verdicts by request id."""
    served = {label: pl.load_prompt("summarize", label=label, db=lab.path) for label in ("production", "staging")}
    trials: dict[str, str] = {}
    with as_user("app-bot"), pl.logger(lab.path, source="summarize-app") as log:  # the app's own login
        for i, row in enumerate(ROWS * 3):
            label = "staging" if i % 4 == 3 else "production"
            trial = log.record(
                served[label],
                {"text": row["text"]},
                f"In short: {row['expected']}.",
                model="echo",
                latency_ms=120.0 + 15 * i,
                usage={"prompt_tokens": 20 + i, "completion_tokens": 6},
                end_user=f"customer-{i % 3}",
                external_id=f"req-{i}",
            )
            trials.setdefault("served", trial)
        log.feedback("req-0", vote=1, action="copied", end_user="customer-0")
        trials["edited"] = log.record(served["production"], {"text": ROWS[1]["text"]}, "Power.", external_id="req-x")
        log.feedback("req-x", vote=-1, action="edited", correction="A storm thawed the fridge.", end_user="customer-1")
        trials["refused"] = log.record(served["production"], {"text": ROWS[2]["text"]}, None, error="RateLimitError")
    return trials


def crash_a_run(path: Path, user: str = "ben") -> None:
    """A sweep whose process dies mid-run (a kernel crash): it reads as ``interrupted``."""
    code = textwrap.dedent(
        f"""
        import os, promptlab as pl

        class Dies:
            async def complete(self, request):
                os._exit(9)
            async def aclose(self):
                pass

        pl.register_provider("dies", Dies())
        pl.Lab({str(path)!r}).sweep(pl.Prompt("Say hello to {{{{ name }}}}", name="greet"),
                                   pl.Model("doomed", provider="dies"), {NAMES!r}, experiment="greetings",
                                   display=None)
        """
    )
    env = {**os.environ, "PROMPTLAB_USER": user}
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 9, done.stderr


def _privacy(lab: pl.Lab) -> None:
    """The privacy team's week: an approval for the support data to go to a
    hosted model, one refused (asked of oneself), and an export with its reason."""
    with as_user("ana"):
        given = {"use": "support", "tier": "restricted", "model": "gpt-4o-mini", "reason": "vendor DPA PRIV-112"}
        lab.approve(**given, approved_by="pat", expires="2099-12-31")
        with contextlib.suppress(pl.PrivacyError):
            lab.approve(**given, approved_by="ana")
        exported = lab.path.parent / "exports" / "summaries.csv"
        lab.export_trials(exported, experiment="summaries", reason="QBR", mkdir=True)


def fill_team_history(lab: pl.Lab, *, interrupted: bool = False) -> TeamHistory:
    """Record a week of a team's work into ``lab`` (see the module docstring);
    ``promptlab.toml`` is written beside its file. Returns where things are."""
    register_providers()
    (lab.path.parent / "promptlab.toml").write_text(POLICY)
    runs = _sweeps(lab)
    trials = _feedback(lab, runs["grid"])
    _labels(lab)
    trials.update(_production(lab))
    _privacy(lab)
    run_ids = {role: run.run_id for role, run in runs.items()}
    run_ids["production"] = str(lab.runs(experiment="summarize-app")["run_id"].iloc[0])
    if interrupted:
        lab.fold()
        crash_a_run(lab.path)
        greetings = lab.runs(experiment="greetings")
        run_ids["crashed"] = str(greetings.loc[greetings["status"] == "interrupted", "run_id"].iloc[0])
    versions = {
        "summarize": [p.version for p in SUMMARIZE],
        "classify": [p.version for p in CLASSIFY],
        "greet": [GREET.version],
    }
    return TeamHistory(lab.path, run_ids, versions, trials)
