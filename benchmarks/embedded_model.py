"""The embedded model on this machine: tokens/s and trials/s at 1, 2 and 4
slots, and what the sweep engine adds over calling the server directly.

For each slot count, one llama.cpp server serves the same kind of cells
twice: through a bare ``AsyncOpenAI`` loop at concurrency = slots (the
baseline), then through ``lab.sweep`` with full recording (cache off, so
every cell is a call). Rows differ between the two passes (same length) so
llama.cpp's prompt cache favours neither.

    python benchmarks/embedded_model.py [--cells 16] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import openai

import promptlab as pl
from promptlab.providers import embedded, model_files
from promptlab.runner.progress import NullDisplay

PROMPT = pl.Prompt("Write one sentence about {{ topic }}.", name="sentence")


def rows(n: int, offset: int) -> list[dict[str, str]]:
    """Distinct topics of the same length."""
    return [{"topic": f"topic number {offset + i:04d}"} for i in range(n)]


async def bare(url: str, data: list[dict[str, str]], concurrency: int, max_tokens: int) -> tuple[float, int]:
    """Seconds and completion tokens for the cells through AsyncOpenAI alone."""
    client = openai.AsyncOpenAI(base_url=url, api_key="not-needed", max_retries=0)
    queue = iter(data)
    tokens = 0

    async def worker() -> None:
        nonlocal tokens
        for row in queue:
            response = await client.chat.completions.create(
                model="smollm2",
                messages=PROMPT.render(row),
                max_tokens=max_tokens,
                temperature=0,  # type: ignore[arg-type]
            )
            tokens += response.usage.completion_tokens if response.usage else 0

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed, tokens


def swept(lab: pl.Lab, data: list[dict[str, str]], slots: int, max_tokens: int) -> tuple[float, int]:
    """Seconds and completion tokens for the cells through lab.sweep."""
    started = time.perf_counter()
    run = lab.sweep(
        PROMPT,
        pl.Model("smollm2", max_tokens=max_tokens, temperature=0),
        data,
        concurrency=slots,
        cache=False,
        display=NullDisplay(),
    )
    elapsed = time.perf_counter() - started
    df = run.df
    assert df["error"].isna().all(), df["error"].dropna().tolist()
    return elapsed, int(df["completion_tokens"].sum())


def main() -> None:
    """Measure and print one line per slot count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cells", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    path = model_files.pull("smollm2")
    print(f"cells {args.cells}, max_tokens {args.max_tokens}, model {path.name}")
    widths = {"slots": 5, "bare tok/s": 11, "bare trials/s": 14, "sweep tok/s": 12, "sweep trials/s": 15}
    print(" ".join(f"{heading:>{width}}" for heading, width in {**widths, "sweep/bare": 11}.items()))
    with tempfile.TemporaryDirectory() as folder:
        lab = pl.Lab(Path(folder) / "bench.duckdb")
        for offset, slots in enumerate((1, 2, 4)):
            embedded.SLOTS = slots  # the sweep's provider starts (or reuses) the server with this many slots
            server = embedded.server_for(path, slots)
            asyncio.run(bare(server.url, rows(2, 9000), slots, args.max_tokens))  # warm-up
            bare_s, bare_tokens = asyncio.run(bare(server.url, rows(args.cells, offset * 1000), slots, args.max_tokens))
            sweep_s, sweep_tokens = swept(lab, rows(args.cells, offset * 1000 + 500), slots, args.max_tokens)
            print(
                f"{slots:>5} {bare_tokens / bare_s:>11.1f} {args.cells / bare_s:>14.2f} "
                f"{sweep_tokens / sweep_s:>12.1f} {args.cells / sweep_s:>15.2f} "
                f"{(args.cells / sweep_s) / (args.cells / bare_s):>10.3f}x"
            )


if __name__ == "__main__":
    main()
