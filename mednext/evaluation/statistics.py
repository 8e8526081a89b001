"""Statistics over per-case scores: summaries, paired tests, bootstrap CIs, rank stability.

All functions take the tidy per-case table (one row per case x region x model, columns
``model``, ``case``, ``region``, ``dice``, ``nsd``). A case's score is the mean over its regions
(undefined regions, NaN, excluded), as in the paper's tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["case_scores", "summarise", "bootstrap_mean_ci", "holm", "paired_comparison", "compare_models", "rank_stability"]


def case_scores(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per-case score (mean over regions) as a ``case x model`` table."""
    return df.groupby(["model", "case"])[metric].mean().unstack("model")


def summarise(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per model: mean and SD over cases, number of cases, and the per-region means."""
    per_case = case_scores(df, metric)
    out = pd.DataFrame({f"{metric}_mean": per_case.mean(), f"{metric}_sd": per_case.std(ddof=1),
                        "n_cases": per_case.notna().sum()})
    per_region = df.groupby(["model", "region"])[metric].mean().unstack("region").add_prefix(f"{metric}_")
    undefined = df[df[metric].isna()].groupby("model").size().rename(f"{metric}_undefined")
    return out.join(per_region).join(undefined).fillna({f"{metric}_undefined": 0})


def bootstrap_mean_ci(values: np.ndarray, n_resamples: int = 10000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% CI of the mean (NaN dropped; a single value gives a zero-width interval)."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return (np.nan, np.nan)
    if len(values) == 1 or np.all(values == values[0]):
        return (float(values.mean()), float(values.mean()))
    ci = stats.bootstrap((values,), np.mean, n_resamples=n_resamples, method="percentile",
                         random_state=np.random.default_rng(seed)).confidence_interval
    return (float(ci.low), float(ci.high))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given; NaN stays NaN)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid])]
    m = len(order)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted


def paired_comparison(a: np.ndarray, b: np.ndarray, n_resamples: int = 10000, seed: int = 0) -> dict:
    """Model a vs reference b on the same cases: mean difference, its percentile bootstrap 95% CI, Wilcoxon p."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = ~(np.isnan(a) | np.isnan(b))
    diff = a[keep] - b[keep]
    result = {"n_pairs": int(keep.sum()), "mean_diff": float(diff.mean()) if len(diff) else np.nan,
              "ci_low": np.nan, "ci_high": np.nan, "p_wilcoxon": np.nan}
    if len(diff) >= 2 and np.any(diff != diff[0]):
        ci = stats.bootstrap((diff,), np.mean, n_resamples=n_resamples, method="percentile",
                             confidence_level=0.95, random_state=np.random.default_rng(seed)).confidence_interval
        result.update(ci_low=float(ci.low), ci_high=float(ci.high))
    elif len(diff) >= 1:
        result.update(ci_low=float(diff.mean()), ci_high=float(diff.mean()))
    if len(diff) >= 1 and np.any(diff != 0):
        result["p_wilcoxon"] = float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)
    elif len(diff) >= 1:
        result["p_wilcoxon"] = 1.0
    return result


def compare_models(df: pd.DataFrame, metric: str, pairs: Sequence[tuple[str, str]], n_resamples: int = 10000,
                   seed: int = 0) -> pd.DataFrame:
    """Paired comparisons ``(model, reference)`` on per-case scores, Holm-corrected across ``pairs``."""
    per_case = case_scores(df, metric)
    rows = []
    for model, reference in pairs:
        if model not in per_case or reference not in per_case:
            continue
        rows.append({"model": model, "reference": reference,
                     **paired_comparison(per_case[model].to_numpy(), per_case[reference].to_numpy(),
                                         n_resamples, seed)})
    out = pd.DataFrame(rows, columns=["model", "reference", "n_pairs", "mean_diff", "ci_low", "ci_high", "p_wilcoxon"])
    out["p_holm"] = holm(out["p_wilcoxon"].to_numpy()) if len(out) else []
    return out


def rank_stability(df: pd.DataFrame, metric: str, n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How often (fraction of case bootstraps) each model holds each rank (1 = best mean score)."""
    per_case = case_scores(df, metric).dropna()
    models = list(per_case.columns)
    scores = per_case.to_numpy()
    rng = np.random.default_rng(seed)
    counts = np.zeros((len(models), len(models)))
    for _ in range(n_resamples):
        sample = scores[rng.integers(0, len(scores), len(scores))].mean(axis=0)
        ranks = stats.rankdata(-sample, method="min").astype(int) - 1
        counts[np.arange(len(models)), ranks] += 1
    return pd.DataFrame(counts / n_resamples, index=pd.Index(models, name="model"),
                        columns=[f"rank_{r + 1}" for r in range(len(models))])
