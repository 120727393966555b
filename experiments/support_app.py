"""A small support-answering app, to show promptlab's production loop offline.

    python experiments/support_app.py [--db promptlab.duckdb] [--calls 24] [--base-url URL --model NAME]

It loads the ``production`` version of the prompt ``support-reply`` with
``pl.load_prompt`` (as an app would on every request), answers customers'
questions through the ``openai`` client instrumented by ``pl.instrument``
(each call is logged into the history, with the label that served it), and
sends simulated end-user feedback with ``log.feedback``: an answer that
mentions what the customer needed is copied (a thumbs-up); any other is
edited, and the customer's fix is stored as a correction (a thumbs-down).

By default it answers with the embedded local model (llama.cpp, CPU), so it
runs offline. On a history without the prompt it first does what a lead
does in the notebook: sweeps a first version and promotes it to
``production``. Then see the README's "From production back to the
notebook": ``promptlab monitor support-reply``, a dataset of the
down-voted answers, a sweep on it, and the next promotion.
"""

from __future__ import annotations

import argparse
import itertools
import json
import uuid
from pathlib import Path

import openai

import promptlab as pl

NAME = "support-reply"
DATA = Path(__file__).resolve().parent / "data" / "support.jsonl"
FIRST_VERSION = pl.Prompt(
    [
        {"role": "system", "content": "You answer customers of a software product in one short sentence."},
        {"role": "user", "content": "{{ question }}"},
    ],
    name=NAME,
    message="first version: one short sentence",
)


def questions() -> list[dict[str, str]]:
    return [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def endpoint(args: argparse.Namespace) -> tuple[str, str]:
    """The OpenAI-compatible server to call: the one given, else the embedded model's."""
    if args.base_url:
        return args.base_url, args.model
    from promptlab.providers import embedded, model_files

    return embedded.server_for(model_files.pull("smollm2")).url, "smollm2"


def first_promotion(db: str, args: argparse.Namespace) -> None:
    """What a lead does in a notebook before the app ships: run a version, promote it."""
    lab = pl.Lab(db)
    if "production" in set(lab.labels(NAME)["label"]):
        return
    rows = [{"question": q["question"], "expected": q["expected"]} for q in questions()]
    model = (
        pl.Model(args.model, base_url=args.base_url, max_tokens=48, temperature=0)
        if args.base_url
        else pl.Model("smollm2", max_tokens=48, temperature=0)
    )
    print(f"{NAME} has no production version yet: sweeping a first one on {model.name}, then promoting it")
    lab.sweep(FIRST_VERSION, model, rows, experiment="support-reply")
    lab.promote(NAME, FIRST_VERSION.version, label="production", note="first version for the example app")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="promptlab.duckdb", help="the history (a file, or a team server's URL)")
    parser.add_argument("--calls", type=int, default=24, help="questions to answer")
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint (default: the embedded model)")
    parser.add_argument("--model", default="smollm2", help="the model name at --base-url")
    args = parser.parse_args()

    first_promotion(args.db, args)
    base_url, model = endpoint(args)
    log = pl.logger(args.db, source="support-app")
    client = pl.instrument(openai.OpenAI(base_url=base_url, api_key="not-needed-locally"), log)
    up = down = 0
    for n, item in enumerate(itertools.islice(itertools.cycle(questions()), args.calls)):
        prompt = pl.load_prompt(NAME, label="production", db=args.db)  # per request: a few stat calls
        request_id = f"req-{uuid.uuid4().hex[:12]}"
        customer = f"customer-{n % 7}"
        with log.context(end_user=customer, external_id=request_id, session=f"chat-{n // 3}"):
            response = client.chat.completions.create(
                model=model, messages=prompt.render({"question": item["question"]}), max_tokens=48, temperature=0
            )
        answer = response.choices[0].message.content or ""
        # the customer's verdict, sent later by the app's feedback endpoint: it knows its own request id
        if item["expected"].lower() in answer.lower():
            log.feedback(request_id, vote=1, action="copied", end_user=customer)
            up += 1
        else:
            log.feedback(request_id, vote=-1, action="edited", correction=item["answer"], end_user=customer)
            down += 1
    log.close()
    print(
        f"answered {args.calls} questions with {NAME} (production, version {prompt.version}); "
        f"feedback: {up} up, {down} down (with corrections). Logged {log.written} records, dropped {log.dropped}.\n"
        f"Next: promptlab --db {args.db} monitor {NAME}"
    )


if __name__ == "__main__":
    main()
