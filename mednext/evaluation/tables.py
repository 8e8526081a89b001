"""The per-dataset results table and its companions (per class, comparisons, rank stability).

Every number says which evaluation protocol it follows (column prefix ``paper_`` or
``physical_``; ``METRIC_LABELS`` gives the words the text uses):

* ``paper_dice_mean``, ``paper_sdc_mean``: the official MedNeXt summary (per class the mean over
  cases, NaN dropped, then the mean of the classes), with ``..._nan_is_1`` and a case-bootstrap
  95% CI of that statistic. The headline numbers and the comparison with published numbers.
* ``physical_dice_mean``, ``physical_nsd_mean``: mean over cases of each case's class mean, with
  SD and a bootstrap CI.

Paired comparisons use per-case scores (a case's class mean) of one metric. Each Holm family is
one (family, metric) pair: the comparisons of every model against nnU-Net on that metric, or the
paper's ablations against their references (the registry's ``ABLATIONS``, MedNeXt-B: plain vs
residual resampling, UpKern vs k5 from scratch, UpKern k5 vs k3 trained twice, k5 UpKern vs k3)
on that metric. A comparisons row names its family in
``holm_family`` and the family's size in ``holm_m``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mednext.evaluation.per_case import METRICS
from mednext.evaluation.statistics import (bootstrap_mean_ci, bootstrap_paper_ci, case_scores,
                                           compare_models, paper_average, rank_stability, summarise)
from mednext.nnunet.registry import ABLATIONS
from mednext.nnunet.registry import REFERENCE_MODEL as REFERENCE
from mednext.nnunet.runspec import Budget

__all__ = ["HEADLINE", "METRIC_LABELS", "ablation_pairs", "ablation_table", "dataset_tables",
           "learning_curves", "load_records", "published_comparison", "summarise_run_records",
           "upkern_head_start"]

HEADLINE = "paper_dice"
METRIC_LABELS = {
    "paper_dice": "Dice (paper protocol)",
    "paper_sdc": "SDC (paper protocol: unit spacing, tolerance 1 voxel)",
    "physical_dice": "Dice (physical protocol)",
    "physical_nsd": "NSD (physical protocol: image spacing, tolerance in mm)",
}
QUESTION = {(a.model, a.reference): a.question for a in ABLATIONS}
TRANSFORMERS = ("unetr", "swinunetr")
TRANSFORMER_NOTE = "below 0.5 Dice: transformers need longer budgets than this run's"
PAPER_BUDGET = f"{Budget().epochs}x{Budget().iterations}"  # as summarise_run_records writes a run's budget


def short_of_paper(budget_run) -> bool:
    """Whether a model's folds are known to have trained less than the paper's budget (``budget_run``)."""
    return isinstance(budget_run, str) and budget_run != PAPER_BUDGET
FAMILIES = {"vs nnU-Net": "every model vs nnU-Net", "ablation": "the ablations vs their references"}


def ablation_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """The registry's (model, reference) ablation comparisons whose two models are both among ``models``."""
    present = set(models)
    return [(a.model, a.reference) for a in ABLATIONS if {a.model, a.reference} <= present]


def summarise_run_records(records: Sequence[Mapping]) -> pd.DataFrame:
    """Per model: GPU/CPU hours (all folds), peak GPU memory, budget run, what backward recomputed
    (MedNeXt's checkpointing mode; several, comma-separated, where folds differ), folds trained."""
    rows = []
    for r in records:
        b = r.get("budget", {})
        rows.append({"model": r["model"], "seconds": r.get("training_seconds", np.nan),
                     "peak_gpu_memory_gib": r.get("peak_gpu_memory_gib"),
                     "budget": f"{r.get('epochs_completed', '?')}x{b.get('iterations', '?')}",
                     "checkpointing": r.get("checkpointing") or "-"})
    df = pd.DataFrame(rows, columns=["model", "seconds", "peak_gpu_memory_gib", "budget", "checkpointing"])
    return df.groupby("model").agg(
        training_hours=("seconds", lambda s: s.sum() / 3600),
        peak_gpu_memory_gib=("peak_gpu_memory_gib", lambda s: pd.to_numeric(s, errors="coerce").max()),
        budget_run=("budget", lambda s: ",".join(sorted(set(s)))),
        checkpointing=("checkpointing", lambda s: ",".join(sorted(set(s)))),
        folds_trained=("seconds", "size"),
    )


def dataset_tables(per_case: pd.DataFrame, labels: Mapping[str, str], complexity: pd.DataFrame | None = None,
                   records: pd.DataFrame | None = None, synthetic: bool = False, n_resamples: int = 10000,
                   seed: int = 0) -> dict[str, pd.DataFrame]:
    """Build ``table``, ``per_class``, ``comparisons`` and ``ranks`` from the per-case rows of all models."""
    models = list(labels)
    table = pd.DataFrame(index=pd.Index(models, name="model"))
    table["label"] = [labels[m] for m in models]
    for metric in METRICS["paper"]:
        official = paper_average(per_case, metric)
        table[f"{metric}_mean"] = official[metric]
        table[f"{metric}_mean_nan_is_1"] = official[f"{metric}_nan_is_1"]
        cis = bootstrap_paper_ci(per_case, metric, n_resamples, seed)
        table[f"{metric}_ci_low"] = pd.Series({m: c[0] for m, c in cis.items()})
        table[f"{metric}_ci_high"] = pd.Series({m: c[1] for m, c in cis.items()})
    for metric in METRICS["physical"]:
        summary, scores = summarise(per_case, metric), case_scores(per_case, metric)
        table[f"{metric}_mean"] = summary[f"{metric}_mean"]
        table[f"{metric}_sd"] = summary[f"{metric}_sd"]
        cis = {m: bootstrap_mean_ci(scores[m].to_numpy(), n_resamples, seed) for m in models if m in scores}
        table[f"{metric}_ci_low"] = pd.Series({m: c[0] for m, c in cis.items()})
        table[f"{metric}_ci_high"] = pd.Series({m: c[1] for m, c in cis.items()})
    table["n_cases"] = per_case.groupby("model")["case"].nunique()
    vs_ref = [(m, REFERENCE) for m in models if m != REFERENCE] if REFERENCE in models else []
    comparisons = []
    for family, pairs in (("vs nnU-Net", vs_ref), ("ablation", ablation_pairs(models))):
        for metric in METRIC_LABELS:
            c = compare_models(per_case, metric, pairs, n_resamples, seed)
            c.insert(0, "metric", metric)
            c.insert(0, "family", family)
            c["holm_family"] = f"{FAMILIES[family]} on per-case {METRIC_LABELS[metric]}"
            c["holm_m"] = int(c["p_wilcoxon"].notna().sum())
            comparisons.append(c)
    comparisons = pd.concat(comparisons, ignore_index=True)
    vs = comparisons[(comparisons.family == "vs nnU-Net") & (comparisons.metric == HEADLINE)].set_index("model")
    table[f"{HEADLINE}_p_vs_nnunet_holm"] = vs["p_holm"]
    if complexity is not None and len(complexity):
        c = complexity.set_index("model")
        table["params_m"] = c["params_m"]
        table["gflops"] = c["gflops"]
        table["gflops_input_size"] = c["input_size"]
    if records is not None and len(records):
        table = table.join(records)
    # the reason is the note's only where the records show it: a budget shorter than the paper's
    table["note"] = [TRANSFORMER_NOTE if m in TRANSFORMERS and table.loc[m, f"{HEADLINE}_mean"] < 0.5
                     and short_of_paper(table.loc[m].get("budget_run")) else "" for m in models]
    table["synthetic"] = synthetic
    by_class, per_class = per_case.groupby(["model", "region"]), {}
    for protocol, metrics in METRICS.items():
        per_class[f"{protocol}_labels"] = by_class[f"{protocol}_labels"].first()
        for metric in metrics:
            per_class[metric] = by_class[metric].mean()  # the official per-class mean (NaN dropped)
            if protocol == "paper":
                per_class[f"{metric}_nan_is_1"] = per_case[metric].fillna(1.0).groupby(
                    [per_case["model"], per_case["region"]]).mean()
    per_class = pd.concat(per_class, axis=1).reset_index()
    ranks = rank_stability(per_case, HEADLINE, n_resamples=min(n_resamples, 1000), seed=seed)
    return {"table": table.reset_index(), "per_class": per_class, "comparisons": comparisons,
            "ranks": ranks.reset_index()}


def load_records(paths: Sequence[str | Path], model_of: Mapping[str, str]) -> list[dict]:
    """Run records, each tagged with the model key found for its folder (``model_of[path]``)."""
    records = []
    for p in paths:
        r = json.loads(Path(p).read_text())
        r["model"] = model_of[str(p)]
        records.append(r)
    return records


CURVE_COLUMNS = ["model", "fold", "epochs_trained", "iterations_trained", "train_loss", "val_loss", "pseudo_dice",
                 "ema_pseudo_dice"]
HEAD_START_COLUMNS = ["model", "reference", "epochs_trained", "model_pseudo_dice", "model_val_loss",
                      "reference_pseudo_dice", "reference_val_loss"]


def learning_curves(records: Sequence[Mapping]) -> pd.DataFrame:
    """One row per model, fold and validation: ``epochs_trained`` 0 is the validation before the first training
    step (the run record's ``before_training``), 1 ... n nnU-Net's validation after each epoch (its own log);
    ``iterations_trained`` counts the training iterations before it (NaN where the record has no budget)."""
    frames = []
    for r in records:
        curve = pd.DataFrame(r.get("learning_curve") or {})
        curve.insert(0, "epochs_trained", range(1, len(curve) + 1))
        if r.get("before_training"):
            curve = pd.concat([pd.DataFrame([{"epochs_trained": 0, **r["before_training"]}]), curve])
        if len(curve):
            curve["iterations_trained"] = curve["epochs_trained"] * (r.get("budget") or {}).get("iterations", np.nan)
            curve.insert(0, "fold", r.get("fold"))
            curve.insert(0, "model", r["model"])
            frames.append(curve)
    return pd.concat(frames, ignore_index=True).reindex(columns=CURVE_COLUMNS) if frames else \
        pd.DataFrame(columns=CURVE_COLUMNS)


def upkern_head_start(curves: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """UpKern's head start: for every UpKern ablation whose two runs are among ``models``, the validation pseudo
    Dice and loss of the UpKern run and of its from-scratch reference before training (``epochs_trained`` 0) and
    after the first epoch (1), means over folds; a validation a run lacks is NaN."""
    rows = []
    for epochs in (0, 1):
        at = curves[curves["epochs_trained"] == epochs].groupby("model")[["pseudo_dice", "val_loss"]].mean()
        rows += [{"model": m, "reference": r, "epochs_trained": epochs,
                  **{f"{who}_{k}": at[k].get(run, np.nan) for who, run in (("model", m), ("reference", r))
                     for k in ("pseudo_dice", "val_loss")}}
                 for m, r in ablation_pairs(models) if m.endswith("_upkern") and r == m.removesuffix("_upkern")]
    return pd.DataFrame(rows, columns=HEAD_START_COLUMNS)


def ablation_table(comparisons: Mapping[str, pd.DataFrame], tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The paper's ablation rows across datasets: each ablation beside its reference, per metric (per-case means
    over the paired cases, their difference with CI and Holm p within the family named)."""
    columns = ["dataset", "comparison", "model", "reference", "metric", "metric_label", "model_mean", "reference_mean",
               "mean_diff", "ci_low", "ci_high", "p_holm", "holm_family", "n_pairs", "synthetic"]
    rows = []
    for dataset, comp in comparisons.items():
        table = tables[dataset]
        synthetic = bool(table["synthetic"].iloc[0]) if "synthetic" in table and len(table) else False
        for _, r in comp[comp["family"] == "ablation"].iterrows():
            rows.append({**{c: r[c] for c in columns if c in r.index}, "dataset": dataset,
                         "comparison": QUESTION.get((r["model"], r["reference"])),
                         "metric_label": METRIC_LABELS.get(r["metric"], r["metric"]), "synthetic": synthetic})
    return pd.DataFrame(rows, columns=columns)


def published_comparison(tables: Mapping[str, pd.DataFrame], published: pd.DataFrame) -> pd.DataFrame:
    """Our Dice (paper protocol, official averaging; in %) beside each published 5-fold Dice of the same dataset
    and model, with the published cohort and averaging. ``comparable`` says ``yes`` or ``not comparable: reason``:
    the reason recorded for the published row (``published.csv``), a case count that differs from ours, or a
    budget of ours shorter than the paper's (the published runs trained the full schedule)."""
    pub = published[published["metric"] == "dice_5fold"]
    rows = []
    for _, p in pub.iterrows():
        ours = tables.get(p["dataset"])
        row = ours.set_index("model").loc[p["model"]] if ours is not None and p["model"] in set(ours["model"]) else None
        verdict = str(p["comparable"]) if pd.notna(p.get("comparable")) else "yes"
        if verdict == "yes" and row is not None and pd.notna(p.get("n_cases")) and \
                int(p["n_cases"]) != int(row["n_cases"]):
            verdict = f"not comparable: {int(p['n_cases'])} cases published, {int(row['n_cases'])} evaluated here"
        if verdict == "yes" and row is not None and short_of_paper(row.get("budget_run")):
            verdict = f"not comparable: trained {row['budget_run']} (epochs x iterations), published {PAPER_BUDGET}"
        rows.append({"dataset": p["dataset"], "model": p["model"], "published_dice": p["value"],
                     "published_cohort": p.get("cohort"),
                     "published_n_cases": int(p["n_cases"]) if pd.notna(p.get("n_cases")) else None,
                     "published_averaging": p.get("averaging"),
                     "ours_dice": None if row is None else 100 * row[f"{HEADLINE}_mean"],
                     "ours_protocol": "paper (official MedNeXt averaging)",
                     "ours_n_cases": None if row is None else row["n_cases"],
                     "ours_budget": None if row is None or "budget_run" not in row else row["budget_run"],
                     "comparable": verdict, "source": p["source"]})
    return pd.DataFrame(rows, columns=["dataset", "model", "published_dice", "published_cohort", "published_n_cases",
                                       "published_averaging", "ours_dice", "ours_protocol", "ours_n_cases",
                                       "ours_budget", "comparable", "source"])
