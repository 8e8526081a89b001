"""The per-dataset results table and its companions (per class, comparisons, rank stability).

Comparisons form two families, each Holm-corrected on its own: every model against nnU-Net,
and the paper's ablations against their references (UpKern vs k5 from scratch, k5 vs k3,
trained twice vs k3, plain vs residual resampling).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mednext.evaluation.statistics import bootstrap_mean_ci, case_scores, compare_models, rank_stability, summarise
from mednext.nnunet.registry import REFERENCE_MODEL as REFERENCE
from mednext.nnunet.registry import model_spec

__all__ = ["ablation_pairs", "ablation_table", "dataset_tables", "published_comparison", "read_records",
           "summarise_run_records"]


def ablation_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """(ablation, reference) pairs among ``models`` (each model's reference from the registry)."""
    references = {m: model_spec(m).reference for m in models}
    return [(m, ref) for m, ref in references.items() if ref in references]


def summarise_run_records(records: Sequence[Mapping]) -> pd.DataFrame:
    """Per model: GPU/CPU hours (all folds), peak GPU memory, budget run, folds trained."""
    rows = []
    for r in records:
        b = r.get("budget", {})
        rows.append({"model": r["model"], "seconds": r.get("training_seconds", np.nan),
                     "peak_gpu_memory_gib": r.get("peak_gpu_memory_gib"),
                     "budget": f"{r.get('epochs_completed', '?')}x{b.get('iterations', '?')}"})
    df = pd.DataFrame(rows, columns=["model", "seconds", "peak_gpu_memory_gib", "budget"])
    return df.groupby("model").agg(
        training_hours=("seconds", lambda s: s.sum() / 3600),
        peak_gpu_memory_gib=("peak_gpu_memory_gib", lambda s: pd.to_numeric(s, errors="coerce").max()),
        budget_run=("budget", lambda s: ",".join(sorted(set(s)))),
        folds_trained=("seconds", "size"),
    )


def dataset_tables(per_case: pd.DataFrame, labels: Mapping[str, str], complexity: pd.DataFrame | None = None,
                   records: pd.DataFrame | None = None, synthetic: bool = False, n_resamples: int = 10000,
                   seed: int = 0) -> dict[str, pd.DataFrame]:
    """Build ``table``, ``per_class``, ``comparisons`` and ``ranks`` from the per-case rows of all models."""
    models = list(labels)
    dice, nsd = summarise(per_case, "dice"), summarise(per_case, "nsd")
    table = pd.DataFrame(index=pd.Index(models, name="model"))
    table["label"] = [labels[m] for m in models]
    per_case_dice, per_case_nsd = case_scores(per_case, "dice"), case_scores(per_case, "nsd")
    for metric, summary, scores in (("dice", dice, per_case_dice), ("nsd", nsd, per_case_nsd)):
        table[f"{metric}_mean"] = summary[f"{metric}_mean"]
        table[f"{metric}_sd"] = summary[f"{metric}_sd"]
        cis = {m: bootstrap_mean_ci(scores[m].to_numpy(), n_resamples, seed) for m in models if m in scores}
        table[f"{metric}_ci_low"] = pd.Series({m: c[0] for m, c in cis.items()})
        table[f"{metric}_ci_high"] = pd.Series({m: c[1] for m, c in cis.items()})
    table["n_cases"] = dice["n_cases"]
    vs_ref = [(m, REFERENCE) for m in models if m != REFERENCE] if REFERENCE in models else []
    comparisons = []
    for family, pairs in (("vs nnU-Net", vs_ref), ("ablation", ablation_pairs(models))):
        for metric in ("dice", "nsd"):
            c = compare_models(per_case, metric, pairs, n_resamples, seed)
            c.insert(0, "metric", metric)
            c.insert(0, "family", family)
            comparisons.append(c)
    comparisons = pd.concat(comparisons, ignore_index=True)
    vs = comparisons[(comparisons.family == "vs nnU-Net") & (comparisons.metric == "dice")].set_index("model")
    table["dice_p_vs_nnunet_holm"] = vs["p_holm"]
    if complexity is not None and len(complexity):
        c = complexity.set_index("model")
        table["params_m"] = c["params_m"]
        table["gflops"] = c["gflops"]
        table["gflops_input_size"] = c["input_size"]
    if records is not None and len(records):
        table = table.join(records)
    table["synthetic"] = synthetic
    per_class = pd.concat(
        {"dice": per_case.groupby(["model", "region"])["dice"].mean(),
         "nsd": per_case.groupby(["model", "region"])["nsd"].mean()}, axis=1).reset_index()
    ranks = rank_stability(per_case, "dice", n_resamples=min(n_resamples, 1000), seed=seed)
    return {"table": table.reset_index(), "per_class": per_class, "comparisons": comparisons,
            "ranks": ranks.reset_index()}


def read_records(paths: Sequence[str | Path], model_of: Mapping[str, str]) -> pd.DataFrame:
    """Run records, each tagged with the model key found for its folder (``model_of[path]``)."""
    records = []
    for p in paths:
        r = json.loads(Path(p).read_text())
        r["model"] = model_of[str(p)]
        records.append(r)
    return summarise_run_records(records)


def ablation_table(comparisons: Mapping[str, pd.DataFrame], tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The paper's ablation rows across datasets: each ablation's mean Dice/NSD beside its reference's."""
    rows = []
    for dataset, comp in comparisons.items():
        means = tables[dataset].set_index("model")
        for _, r in comp[comp["family"] == "ablation"].iterrows():
            metric = r["metric"]
            rows.append({"dataset": dataset, "model": r["model"], "reference": r["reference"], "metric": metric,
                         "model_mean": means.loc[r["model"], f"{metric}_mean"],
                         "reference_mean": means.loc[r["reference"], f"{metric}_mean"],
                         "mean_diff": r["mean_diff"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                         "p_holm": r["p_holm"], "n_pairs": r["n_pairs"],
                         "synthetic": bool(means["synthetic"].iloc[0]) if "synthetic" in means else False})
    return pd.DataFrame(rows, columns=["dataset", "model", "reference", "metric", "model_mean", "reference_mean",
                                       "mean_diff", "ci_low", "ci_high", "p_holm", "n_pairs", "synthetic"])


def published_comparison(tables: Mapping[str, pd.DataFrame], published: pd.DataFrame) -> pd.DataFrame:
    """Our mean Dice (in %) beside published 5-fold Dice for the same dataset and model, with the source."""
    pub = published[published["metric"] == "dice_5fold"]
    rows = []
    for _, p in pub.iterrows():
        ours = tables.get(p["dataset"])
        row = ours.set_index("model").loc[p["model"]] if ours is not None and p["model"] in set(ours["model"]) else None
        rows.append({"dataset": p["dataset"], "model": p["model"], "published_dice": p["value"],
                     "ours_dice": None if row is None else 100 * row["dice_mean"],
                     "ours_n_cases": None if row is None else row["n_cases"],
                     "ours_budget": None if row is None or "budget_run" not in row else row["budget_run"],
                     "source": p["source"]})
    return pd.DataFrame(rows, columns=["dataset", "model", "published_dice", "ours_dice", "ours_n_cases",
                                       "ours_budget", "source"])
