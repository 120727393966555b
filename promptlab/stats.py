"""Aggregates over trial DataFrames (pandas in, pandas out)."""

from __future__ import annotations

from typing import Any

import pandas as pd

VARIANT = ["prompt_name", "prompt_version", "model", "params"]
"""The columns that identify a variant: one prompt version on one model config."""


def params_label(params: Any) -> str:
    """``temperature=0.7, max_tokens=64`` for a params dict ('' when none)."""
    if not isinstance(params, dict) or not params:
        return ""
    return ", ".join(f"{key}={value}" for key, value in sorted(params.items()))


def with_variant_labels(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with ``params`` as text, so variants can be grouped."""
    frame = trials.copy()
    frame["params"] = frame["params"].map(params_label)
    return frame


def summary(trials: pd.DataFrame) -> pd.DataFrame:
    """Per variant: n, errors, cached, latency p50/p95, tokens, cost and spend."""
    columns = [
        *VARIANT, "n", "errors", "error_rate", "cached", "latency_p50_ms", "latency_p95_ms",
        "prompt_tokens", "completion_tokens", "cost_usd", "spent_usd",
    ]  # fmt: skip
    if trials.empty:
        return pd.DataFrame(columns=columns)
    frame = with_variant_labels(trials)
    frame["failed"] = frame["error_type"].notna()
    frame["ok_latency"] = frame["latency_ms"].where(~frame["failed"])
    frame["spent"] = frame["cost_usd"].where(~frame["cached"].astype(bool), 0.0)
    grouped = frame.groupby(VARIANT, sort=False, dropna=False)
    result = pd.DataFrame(
        {
            "n": grouped.size(),
            "errors": grouped["failed"].sum(),
            "cached": grouped["cached"].sum(),
            "latency_p50_ms": grouped["ok_latency"].quantile(0.5),
            "latency_p95_ms": grouped["ok_latency"].quantile(0.95),
            "prompt_tokens": grouped["prompt_tokens"].sum(min_count=1),
            "completion_tokens": grouped["completion_tokens"].sum(min_count=1),
            # min_count=1: a variant whose price is unknown sums to NaN, not a fake 0
            "cost_usd": grouped["cost_usd"].sum(min_count=1),
            "spent_usd": grouped["spent"].sum(min_count=1),
        }
    ).reset_index()
    result["error_rate"] = result["errors"] / result["n"]
    return result[columns]
