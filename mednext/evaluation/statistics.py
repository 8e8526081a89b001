"""Statistics over per-case scores: both averagings, paired tests, bootstrap CIs, rank stability.

All functions take the tidy per-case table (one row per case x region x model, columns
``model``, ``case``, ``region`` and the metric named by ``metric``, e.g. ``paper_dice`` or
``physical_nsd``). Two ways to average:

* the official MedNeXt summary (``paper_average``): per class the mean over cases with NaN
  (undefined) dropped, then the mean of the classes; also the official "mean (nan is 1)", where
  an undefined case counts as 1.
* per case (``case_scores``, ``summarise``): a case's score is the mean over its classes (NaN
  dropped: a paper metric's undefined classes; physical metrics are never NaN); the mean and SD
  over cases follow. Paired tests and rank stability use these per-case
  scores, since they compare models case by case.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["case_scores", "class_means", "paper_average", "bootstrap_paper_ci", "summarise", "bootstrap_mean_ci",
           "holm", "paired_comparison", "compare_models", "rank_stability"]


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


def class_means(df: pd.DataFrame, metric: str, nan_is_one: bool = False) -> pd.DataFrame:
    """``model x region``: per class the mean over cases, NaN dropped (or counted as 1 with ``nan_is_one``)."""
    values = df[metric].fillna(1.0) if nan_is_one else df[metric]
    return values.groupby([df["model"], df["region"]]).mean().unstack("region")


def paper_average(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The official summary per model: ``<metric>`` (mean over classes of the per-class means, NaN dropped)
    and ``<metric>_nan_is_1`` (the same with undefined cases counted as 1). A class undefined in every case
    has no mean and is left out of the class average."""
    return pd.DataFrame({metric: class_means(df, metric).mean(axis=1),
                         f"{metric}_nan_is_1": class_means(df, metric, nan_is_one=True).mean(axis=1)})


def bootstrap_paper_ci(df: pd.DataFrame, metric: str, n_resamples: int = 10000, seed: int = 0,
                       chunk: int = 500) -> dict[str, tuple[float, float]]:
    """Per model: percentile bootstrap 95% CI of the official average, resampling cases."""
    out = {}
    for model, rows in df.groupby("model"):
        table = rows.pivot(index="case", columns="region", values=metric).to_numpy(float)  # case x class
        n = len(table)
        if n < 2:
            value = float(np.nanmean(np.nanmean(table, axis=0))) if n else np.nan
            out[model] = (value, value)
            continue
        rng, stats_ = np.random.default_rng(seed), []
        for start in range(0, n_resamples, chunk):
            idx = rng.integers(0, n, (min(chunk, n_resamples - start), n))
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN classes in a resample
                stats_.append(np.nanmean(np.nanmean(table[idx], axis=1), axis=1))
        values = np.concatenate(stats_)
        out[model] = (float(np.nanpercentile(values, 2.5)), float(np.nanpercentile(values, 97.5)))
    return out


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
    """Model a vs reference b on the same cases: both means and the mean difference over the paired cases,
    the difference's percentile bootstrap 95% CI, Wilcoxon p."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = ~(np.isnan(a) | np.isnan(b))
    diff = a[keep] - b[keep]
    result = {"n_pairs": int(keep.sum()), "model_mean": float(a[keep].mean()) if len(diff) else np.nan,
              "reference_mean": float(b[keep].mean()) if len(diff) else np.nan,
              "mean_diff": float(diff.mean()) if len(diff) else np.nan,
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
    out = pd.DataFrame(rows, columns=["model", "reference", "n_pairs", "model_mean", "reference_mean", "mean_diff",
                                      "ci_low", "ci_high", "p_wilcoxon"])
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
