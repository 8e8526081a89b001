"""Figures from the result tables: scaling, per-class scores, ablations, rank stability (paper protocol Dice),
and learning curves (validation pseudo Dice and loss against training iterations, from nnU-Net's training logs
and the validation before training).

    python -m mednext.evaluation.figures --dataset phantom --results results [--synthetic]

Each figure is written as PNG (200 dpi) and PDF. Figures of synthetic data carry
"SYNTHETIC DATA" in their title.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from mednext.evaluation.tables import HEADLINE  # noqa: E402

__all__ = ["make_figures", "main"]


def _title(text: str, name: str, synthetic: bool) -> str:
    return f"{name}: {text}" + ("\nSYNTHETIC DATA (phantom) - not a result on real images" if synthetic else "")


def _save(fig, out: Path, stem: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=200, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def make_figures(table: pd.DataFrame, per_case: pd.DataFrame, comparisons: pd.DataFrame, ranks: pd.DataFrame,
                 out_dir: str | Path, dataset: str, name: str, synthetic: bool,
                 learning: pd.DataFrame | None = None) -> list[Path]:
    sns.set_theme(style="whitegrid", context="talk", font_scale=0.8)
    out, written = Path(out_dir), []
    labels = dict(zip(table["model"], table["label"]))

    m = HEADLINE
    # 1. Dice (paper protocol) vs GFLOPs
    fig, ax = plt.subplots(figsize=(8, 6))
    data = table.dropna(subset=["gflops"]) if "gflops" in table else table.iloc[0:0]
    palette = sns.color_palette("tab10", max(1, len(data)))
    for color, (_, r) in zip(palette, data.iterrows()):  # one colour per model, named in the legend
        ax.errorbar(r["gflops"], r[f"{m}_mean"], yerr=[[r[f"{m}_mean"] - r[f"{m}_ci_low"]],
                                                      [r[f"{m}_ci_high"] - r[f"{m}_mean"]]],
                    fmt="o", capsize=4, color=color, label=r["label"], markersize=8)
    if len(data):
        ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=9, title="model")
    size = int(data["gflops_input_size"].iloc[0]) if len(data) else 128
    ax.set_xlabel(f"GFLOPs (fvcore, 1x1x{size}$^3$ input)")
    ax.set_ylabel("Dice, paper protocol (official average, 95% bootstrap CI)")
    ax.set_title(_title("accuracy vs compute", name, synthetic))
    written += _save(fig, out, f"{dataset}_scaling")

    # 2. per-class Dice (paper protocol) per model
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * per_case["region"].nunique() * 2), 6))
    pc = per_case.reset_index(drop=True)
    pc = pc.assign(model_label=pc["model"].map(labels))
    sns.boxplot(data=pc, x="region", y=m, hue="model_label", ax=ax, fliersize=0)
    sns.stripplot(data=pc, x="region", y=m, hue="model_label", dodge=True, ax=ax, size=3, palette="dark:black",
                  legend=False)
    ax.set_xlabel("class")
    ax.set_ylabel("Dice per case (paper protocol)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(title="model", bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=8)
    ax.set_title(_title("per-class Dice over cases", name, synthetic))
    written += _save(fig, out, f"{dataset}_per_class")

    # 3. ablations: mean Dice difference with 95% CI
    abl = comparisons[(comparisons["family"] == "ablation") & (comparisons["metric"] == m)]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.8 * len(abl) + 1.5)))
    if len(abl):
        names = [f"{labels.get(m, m)}\nvs {labels.get(r, r)}" for m, r in zip(abl["model"], abl["reference"])]
        ax.barh(names, abl["mean_diff"], xerr=[abl["mean_diff"] - abl["ci_low"], abl["ci_high"] - abl["mean_diff"]],
                capsize=4, color="tab:blue")
        ax.axvline(0, color="black", lw=1)
    else:
        ax.text(0.5, 0.5, "no ablation pairs configured", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("Dice difference, paper protocol (mean over cases, 95% bootstrap CI)")
    ax.set_title(_title("ablations", name, synthetic))
    written += _save(fig, out, f"{dataset}_ablation")

    # 4. rank stability heat map
    r = ranks.set_index("model")
    r.index = [labels.get(m, m) for m in r.index]
    fig, ax = plt.subplots(figsize=(1 + 0.9 * r.shape[1], 1 + 0.5 * r.shape[0]))
    sns.heatmap(r, annot=True, fmt=".2f", cmap="viridis", vmin=0, vmax=1, ax=ax, cbar_kws={"label": "frequency"})
    ax.set_xlabel("rank by per-case Dice, paper protocol (case bootstrap)")
    ax.set_title(_title("rank stability", name, synthetic))
    written += _save(fig, out, f"{dataset}_ranks")

    # 5. learning curves: validation pseudo Dice and loss before training and after each epoch, against the training
    #    iterations done (models differ in iterations per epoch; mean over folds)
    fig, (ax_dice, ax_loss) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    curves = learning if learning is not None else pd.DataFrame(columns=["model", "iterations_trained"])
    for color, model in zip(sns.color_palette("tab10", max(1, len(labels))), labels):  # a colour per model
        c = curves[curves["model"] == model].groupby("iterations_trained")[["pseudo_dice", "val_loss"]].mean()
        if len(c):
            ax_dice.plot(c.index, c["pseudo_dice"], "o-", color=color, label=labels[model], markersize=4)
            ax_loss.plot(c.index, c["val_loss"], "o-", color=color, label=labels[model], markersize=4)
    if not len(curves):
        ax_dice.text(0.5, 0.5, "no learning curves in the run records", ha="center", va="center",
                     transform=ax_dice.transAxes)
    ax_dice.set_ylim(-0.02, 1.02)
    ax_dice.set_ylabel("validation pseudo Dice (mean over classes)")
    ax_loss.set_ylabel("validation loss (Dice + CE)")
    for ax in (ax_dice, ax_loss):
        ax.set_xlabel("training iterations (0: as initialised)")
    if len(curves):
        ax_loss.legend(title="model", bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=8)
    fig.suptitle(_title("learning curves (nnU-Net training logs, mean over folds)", name, synthetic))
    written += _save(fig, out, f"{dataset}_learning")
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--results", default="results")
    p.add_argument("--name", help="display name (default: the dataset key)")
    p.add_argument("--synthetic", action="store_true")
    p.add_argument("--out", help="output folder (default RESULTS/figures)")
    args = p.parse_args(argv)
    res = Path(args.results)
    from mednext.evaluation.per_case import read_per_case

    make_tables = f"make them first (snakemake results/tables/{args.dataset}.csv) or pass --results"
    files = sorted((res / "per_case" / args.dataset).glob("*.csv"))
    if not files:
        p.error(f"{res / 'per_case' / args.dataset}: no per-case CSVs; {make_tables}")
    per_case = pd.concat([read_per_case(f) for f in files], ignore_index=True)
    names = {k: res / "tables" / f"{args.dataset}{s}.csv"
             for k, s in (("table", ""), ("comparisons", "_comparisons"), ("ranks", "_ranks"), ("learning", "_learning"))}
    absent = [str(f) for f in names.values() if not f.is_file()]
    if absent:
        p.error(f"{', '.join(absent)}: not found; {make_tables}")
    tables = {k: pd.read_csv(f) for k, f in names.items()}
    make_figures(tables["table"], per_case, tables["comparisons"], tables["ranks"], args.out or res / "figures",
                 args.dataset, args.name or args.dataset, args.synthetic, learning=tables["learning"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
