"""The Markdown text a reader opens (``paper/results.md``): what was run, the tables inlined, the figures.

Written from the tables and figures the workflow produced, never from anything else:

    snakemake paper/results.md                     # as part of the DAG (rule paper)
    python -m mednext.evaluation.report --results results --datasets btcv amos22 --out paper/results.md

A run on synthetic data says so at the top and in every dataset section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path

import pandas as pd

from mednext.evaluation.tables import HEADLINE, METRIC_LABELS, upkern_head_start
from mednext.files import write_text_atomic

__all__ = ["console_summary", "markdown_table", "render_paper", "write_paper", "main"]

FIGURES = {"scaling": "Dice (paper protocol) vs GFLOPs", "per_class": "Dice per class (paper protocol)",
           "ablation": "Ablations (paired differences)",
           "ranks": "Rank stability",
           "learning": "Learning curves (validation pseudo Dice and loss against training iterations)"}


SETUP_NOTES = [
    "**What is and is not reproduced.** The official MedNeXt code ran on nnU-Net **v1** (`nnunet_mednext`, a fork "
    "of nnU-Net v1); this benchmark runs every model in nnU-Net **v2**. Differences that could move numbers, none "
    "measured here: the v2 default plans of the nnU-Net baseline (v2 planner, patch and batch sizing); the v2 data "
    "loader and augmentation (batchgeneratorsv2 re-implementations of the v1 transforms); the poly learning-rate "
    "schedule (the same per-epoch formula in both as we read the code; v1 sets it at the end of the previous epoch, "
    "v2 at the start of the epoch; not run in v1 to check); mixed precision and `torch.compile` on GPU. The "
    "deep-supervision weights are the official MedNeXt trainers' (all five outputs, 1 to 1/16, normalised). "
    "Only the paper's **5-fold cross-validation** is reproduced, not its held-out leaderboard (test-set) "
    "submissions.", "",
    "**Two evaluation protocols**, both computed for every case: *paper* = the official MedNeXt evaluation "
    "(`region_based_evaluation.py`: Dice; SDC = DeepMind surface Dice at unit spacing with tolerance 1, i.e. one "
    "voxel; KiTS19 kidney = label 1; BraTS WT/TC/ET; per class the mean over cases, undefined dropped, then the "
    "mean of the classes). *physical* = Dice and NSD at the image's spacing with the dataset's tolerance in mm, "
    "Metrics Reloaded empty rules (both empty 1, one empty 0), KiTS19 kidney incl. tumor (labels 1 and 2), mean "
    "over cases of each case's class mean. Headline numbers and the comparison with published numbers follow the "
    "paper protocol.", ""]


def _num(digits: int) -> Callable[[object], str]:
    return lambda v: "" if pd.isna(v) else f"{float(v):.{digits}f}"


def _p(v) -> str:
    """A p-value: three decimals, and "< 0.001" below (never a p of 0.000)."""
    return "" if pd.isna(v) else "< 0.001" if float(v) < 0.001 else f"{float(v):.3f}"


def _pct(v) -> str:
    return "" if pd.isna(v) else f"{100 * float(v):.2f}"


def markdown_table(df: pd.DataFrame, columns: Mapping[str, str], formats: Mapping[str, Callable] | None = None) -> str:
    """``df[columns]`` as a Markdown table; ``columns`` maps column -> header, ``formats`` column -> formatter."""
    formats = formats or {}
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    for _, row in df.iterrows():
        cells = [formats.get(c, lambda v: "" if pd.isna(v) else str(v))(row.get(c)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean_ci(row, metric: str) -> str:
    """``mean ± SD [CI]`` (physical protocol, per-case averaging) or ``mean [CI]`` (paper protocol)."""
    if pd.isna(row.get(f"{metric}_mean")):
        return ""
    sd = f" ± {100 * row[f'{metric}_sd']:.2f}" if f"{metric}_sd" in row.index else ""
    return (f"{100 * row[f'{metric}_mean']:.2f}{sd} "
            f"[{100 * row[f'{metric}_ci_low']:.2f}, {100 * row[f'{metric}_ci_high']:.2f}]")


def _dataset_section(key: str, name: str, table: pd.DataFrame, tables: Path, figures: Path,
                     out_dir: Path) -> list[str]:
    table = table.copy()
    synthetic = bool(table["synthetic"].any())
    for metric in METRIC_LABELS:
        table[f"{metric}_text"] = table.apply(_mean_ci, axis=1, metric=metric)
    lines = [f"## {name}{' (SYNTHETIC DATA)' if synthetic else ''}", ""]
    if synthetic:
        lines += ["> Synthetic phantom: these numbers show that the pipeline runs, not how any model performs on "
                  "real images.", ""]
    low, high = int(table["n_cases"].min()), int(table["n_cases"].max())
    n_cases = f"{high} cases" if low == high else f"{low} to {high} cases (models differ: n_cases per model)"
    budgets = ", ".join(sorted({str(b) for b in table.get("budget_run", pd.Series(dtype=str)).dropna()}))
    folds = ", ".join(sorted({str(int(f)) for f in table.get("folds_trained", pd.Series(dtype=float)).dropna()}))
    lines += [f"{n_cases} evaluated (out-of-fold predictions of the folds trained); folds trained per model: "
              f"{folds or 'not recorded'}; "
              f"budget run (epochs x iterations): {budgets or 'not recorded'}. In %. **Paper protocol** columns: "
              "the official MedNeXt evaluation and averaging (per class the mean over cases, undefined cases "
              "dropped, then the mean of the classes) [95% case-bootstrap CI]; \"nan is 1\": the official "
              "variant that counts undefined cases as 1. **Physical protocol** columns: mean ± SD over cases of "
              "each case's class mean [95% bootstrap CI]. p: Wilcoxon signed-rank on per-case paper-protocol "
              "Dice vs nnU-Net, Holm-corrected over all models vs nnU-Net on that metric.", ""]
    lines.append(markdown_table(
        table, {"label": "model", "paper_dice_text": "Dice (paper)",
                "paper_dice_mean_nan_is_1": "Dice (paper, nan is 1)",
                "paper_sdc_text": "SDC (paper: unit spacing, tol. 1 voxel)",
                "physical_dice_text": "Dice (physical)", "physical_nsd_text": "NSD (physical: mm spacing, tol. in mm)",
                f"{HEADLINE}_p_vs_nnunet_holm": "p vs nnU-Net (paper Dice)",
                "params_m": "params (M)", "gflops": "GFLOPs", "gflops_input_size": "GFLOPs input (N^3)",
                "training_hours": "train h", "peak_gpu_memory_gib": "peak GPU GiB", "note": "note"},
        {"paper_dice_mean_nan_is_1": _pct, f"{HEADLINE}_p_vs_nnunet_holm": _p, "params_m": _num(2),
         "gflops": _num(1), "training_hours": _num(2), "peak_gpu_memory_gib": _num(1), "gflops_input_size": _num(0)}))
    per_class = pd.read_csv(tables / f"{key}_per_class.csv")
    labels = dict(zip(table["model"], table["label"]))
    wide = per_class.pivot(index="region", columns="model", values=HEADLINE).reindex(columns=list(labels))
    wide.columns = [labels[m] for m in wide.columns]
    wide = wide.reset_index()
    lines += ["", f"Dice per class (%), paper protocol (mean over cases, undefined cases dropped), {name}:", "",
              markdown_table(wide, {c: c for c in wide.columns}, {c: _pct for c in wide.columns if c != "region"})]
    lines += _upkern_head_start(tables / f"{key}_learning.csv", labels)
    for kind, title in FIGURES.items():
        png = figures / f"{key}_{kind}.png"
        if png.is_file():
            lines += ["", f"![{name}: {title}]({os.path.relpath(png, out_dir)})"]
    return lines + [""]


def _upkern_head_start(learning_csv: Path, labels: Mapping[str, str]) -> list[str]:
    """UpKern's check: before training and after its first epoch, its validation pseudo Dice and loss beside the
    from-scratch k5 run's, each compared (a validation a run lacks is left out)."""
    if not learning_csv.is_file():
        return []
    lines = []
    for (model, reference), rows in upkern_head_start(pd.read_csv(learning_csv), list(labels)).groupby(
            ["model", "reference"], sort=False):
        parts = []
        for r in rows.dropna().itertuples():
            dice = "higher" if r.model_pseudo_dice > r.reference_pseudo_dice else "NOT higher"
            loss = "lower" if r.model_val_loss < r.reference_val_loss else "NOT lower"
            when = "before training" if r.epochs_trained == 0 else "after the first epoch"
            parts.append(f"{when}, validation pseudo Dice {r.model_pseudo_dice:.3f} vs {r.reference_pseudo_dice:.3f} "
                         f"({dice}) and loss {r.model_val_loss:.3f} vs {r.reference_val_loss:.3f} ({loss})")
        if parts:
            lines += ["", f"**UpKern head start.** {labels[model]} vs {labels[reference]} (from scratch): "
                      + "; ".join(parts) + "."]
    return lines


def render_paper(results: str | Path, datasets: Mapping[str, str], out_dir: str | Path = "paper",
                 today: str | None = None) -> str:
    """The Markdown text for ``datasets`` (key -> display name) from ``results/tables`` and ``results/figures``."""
    results, out_dir = Path(results), Path(out_dir)
    tables, figures = results / "tables", results / "figures"
    main_tables = {k: pd.read_csv(tables / f"{k}.csv") for k in datasets}
    synthetic = any(t["synthetic"].any() for t in main_tables.values())
    versions = ", ".join(f"{p} {_version(p)}" for p in ("mednext-bench", "nnunetv2", "torch", "monai"))
    lines = ["# MedNeXt benchmark: results" + (" (SYNTHETIC DATA)" if synthetic else ""), ""]
    if synthetic:
        lines += ["> **Synthetic data.** Some or all datasets below are the synthetic phantom of the demo; their "
                  "numbers say nothing about MedNeXt or any baseline on real images.", ""]
    lines += [f"Generated {today or dt.date.today().isoformat()} by `mednext.evaluation.report` from the workflow's "
              f"tables and figures ({versions}). Every model was trained with nnU-Net v2 as the harness on the same "
              "pinned 5-fold splits and evaluated on its out-of-fold predictions at the original image geometry. "
              "How each number is computed: `paper/README.md`.", ""] + SETUP_NOTES
    for key, name in datasets.items():
        lines += _dataset_section(key, name, main_tables[key], tables, figures, out_dir)
    if (tables / "ablations.csv").is_file():
        ab = pd.read_csv(tables / "ablations.csv")
        if len(ab):
            lines += ["## Ablations", "", "Paired per-case differences (%; model minus reference) with 95% bootstrap "
                      "CI and Wilcoxon p, Holm-corrected within the family named in the last column (the "
                      "ablations of one dataset on one metric). Means: per-case means over the paired cases.", "",
                      markdown_table(ab, {"dataset": "dataset", "comparison": "comparison", "model": "model", "reference": "reference",
                                          "metric_label": "metric", "model_mean": "model", "reference_mean":
                                          "reference", "mean_diff": "difference", "ci_low": "CI low",
                                          "ci_high": "CI high", "p_holm": "p (Holm)", "n_pairs": "cases",
                                          "holm_family": "Holm family"},
                                     {"model_mean": _pct, "reference_mean": _pct, "mean_diff": _pct, "ci_low": _pct,
                                      "ci_high": _pct, "p_holm": _p}), ""]
    if (tables / "published_comparison.csv").is_file():
        pub = pd.read_csv(tables / "published_comparison.csv")
        lines += ["## Beside published numbers", "",
                  "Published 5-fold Dice (%) with its source, cohort and averaging, next to ours where we have run "
                  "the same dataset and model (ours: paper protocol, official averaging; empty where not run). A "
                  "row whose cohort or protocol differs from ours is shown but marked \"not comparable\" with the "
                  "reason: do not read those two numbers side by side.", "",
                  markdown_table(pub, {"dataset": "dataset", "model": "model", "published_dice": "published Dice",
                                       "published_cohort": "published cohort",
                                       "published_averaging": "published averaging", "ours_dice": "our Dice (paper)",
                                       "ours_n_cases": "our cases", "ours_budget": "our budget",
                                       "comparable": "comparable", "source": "source"},
                                 {"published_dice": _num(2), "ours_dice": _num(2), "ours_n_cases": _num(0)}), ""]
    if (tables / "complexity.csv").is_file():
        cx = pd.read_csv(tables / "complexity.csv")
        lines += ["## Model size", "", "fvcore GFLOPs at a 1 x 1 x N^3 input; published: the official MedNeXt "
                  "README (at 128^3 only). nnU-Net's own network depends on each dataset's plans and is listed in "
                  "the dataset tables.", "",
                  markdown_table(cx, {"label": "model", "input_size": "N", "params_m": "params (M)",
                                      "gflops": "GFLOPs", "published_params_m": "published params (M)",
                                      "published_gflops": "published GFLOPs"},
                                 {"params_m": _num(2), "gflops": _num(1), "published_params_m": _num(2),
                                  "published_gflops": _num(0)}), ""]
    lines += ["## Regenerate", "", "```bash",
              "snakemake --cores 8 all            # tables, figures and this file, from whatever is missing",
              "snakemake paper/results.md         # this file only (rule paper)", "```", ""]
    return "\n".join(lines)


def console_summary(results: str | Path, datasets: Mapping[str, str]) -> str:
    """A few lines for the terminal at the end of a run: each model's headline Dice (with its note), and UpKern's
    head start, per dataset whose table exists."""
    tables, lines = Path(results) / "tables", []
    for key, name in datasets.items():
        if not (tables / f"{key}.csv").is_file():
            continue
        table = pd.read_csv(tables / f"{key}.csv")
        synthetic = " (SYNTHETIC DATA)" if table["synthetic"].any() else ""
        counts = table["n_cases"].astype(int)
        same = counts.nunique() == 1
        cases = f"{counts.iloc[0]} out-of-fold cases" if same else "each model's out-of-fold cases (n below)"
        lines += [f"{name}{synthetic}: mean Dice over classes and {cases} (paper protocol, %)"]
        for r, n in zip(table.itertuples(), counts):
            notes = [note for note in (getattr(r, "note", ""), "" if same else f"n={n}")
                     if isinstance(note, str) and note]
            lines.append(f"  {r.label:<32} {100 * getattr(r, f'{HEADLINE}_mean'):6.1f}"
                         + (f"  ({'; '.join(notes)})" if notes else ""))
        labels = dict(zip(table["model"], table["label"]))
        lines += [line.strip() for line in _upkern_head_start(tables / f"{key}_learning.csv", labels) if line]
    return "\n".join(lines)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def write_paper(out: str | Path, results: str | Path, datasets: Mapping[str, str]) -> Path:
    out = Path(out)
    return write_text_atomic(out, render_paper(results, datasets, out.parent))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mednext.evaluation.report", description=__doc__.split("\n\n")[0])
    p.add_argument("--results", default="results")
    p.add_argument("--datasets", nargs="+", required=True, help="dataset keys (results/tables/<key>.csv)")
    p.add_argument("--names", nargs="+", help="display names, one per dataset (default: the key)")
    p.add_argument("--out", default="paper/results.md")
    args = p.parse_args(argv)
    names = args.names or args.datasets
    if len(names) != len(args.datasets):
        p.error("--names needs one name per dataset")
    try:
        print(write_paper(args.out, args.results, dict(zip(args.datasets, names))))
    except FileNotFoundError as err:
        p.error(f"{err.filename}: not found; make the tables first (snakemake "
                f"{' '.join(f'results/tables/{k}.csv' for k in args.datasets)}) or pass --results")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
