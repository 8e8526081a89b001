"""Dataset tables and figures from per-case rows (no training needed)."""

import numpy as np
import pandas as pd
import pytest

from mednext.evaluation import figures
from mednext.evaluation.figures import make_figures
from mednext.evaluation.per_case import COLUMNS
from mednext.evaluation.tables import (TRANSFORMER_NOTE, ablation_pairs, dataset_tables, upkern_head_start,
                                      learning_curves, summarise_run_records)

MODELS = ["nnunet", "mednext_B_k3", "mednext_B_k5", "mednext_B_k5_upkern", "mednext_B_k3_twice"]


def _per_case(rng):
    rows = []
    for shift, model in zip([0.0, 0.03, 0.02, 0.05, 0.03], MODELS):
        for i in range(12):
            for region in ("liver", "kidney"):
                v = float(np.clip(0.7 + shift + rng.normal(0, 0.02), 0, 1))
                rows.append({"dataset": "d", "model": model, "fold": i % 5, "case": f"c{i}", "region": region,
                             **{f"{p}_{k}": x for p in ("paper", "physical") for k, x in (
                                 ("labels", "1"), ("dice", v), ("reference_voxels", 10), ("predicted_voxels", 10))},
                             "paper_sdc": v, "physical_nsd": v})
    return pd.DataFrame(rows)[COLUMNS]


def test_ablation_pairs():
    # one model (B k5 UpKern) is the subject of three comparisons; the equal-compute control is among them
    assert ablation_pairs(MODELS + ["mednext_B_k3_noresresample"]) == [
        ("mednext_B_k3_noresresample", "mednext_B_k3"), ("mednext_B_k5_upkern", "mednext_B_k5"),
        ("mednext_B_k5_upkern", "mednext_B_k3_twice"), ("mednext_B_k5_upkern", "mednext_B_k3")]
    assert ablation_pairs(["mednext_B_k3", "mednext_B_k5_upkern", "mednext_S_k5", "mednext_S_k5_upkern"]) == [
        ("mednext_B_k5_upkern", "mednext_B_k3")]


def test_dataset_tables_and_figures(tmp_path, monkeypatch):
    per_case = _per_case(np.random.default_rng(0))
    labels = {m: m.replace("_", " ") for m in MODELS}
    complexity = pd.DataFrame({"model": MODELS[1:], "params_m": [10.5, 11.0, 11.0, 10.5],
                               "gflops": [170.0, 208.0, 208.0, 170.0], "input_size": 128})
    records = summarise_run_records([{"model": m, "training_seconds": 3600.0, "peak_gpu_memory_gib": 10.0,
                                      "epochs_completed": 2, "budget": {"iterations": 4},
                                      "checkpointing": ("block" if fold == 4 else "none") if "mednext" in m else None}
                                     for m in MODELS for fold in range(5)])
    out = dataset_tables(per_case, labels, complexity, records, synthetic=True, n_resamples=500)
    table = out["table"].set_index("model")
    assert table.loc["mednext_B_k5_upkern", "paper_dice_mean"] > table.loc["nnunet", "paper_dice_mean"]
    for metric in ("paper_dice", "paper_sdc", "physical_dice", "physical_nsd"):
        assert table.loc["mednext_B_k3", f"{metric}_ci_low"] < table.loc["mednext_B_k3", f"{metric}_mean"] < \
            table.loc["mednext_B_k3", f"{metric}_ci_high"]
    assert table.loc["mednext_B_k5_upkern", "paper_dice_p_vs_nnunet_holm"] < 0.01
    assert table.loc["mednext_B_k3", "training_hours"] == pytest.approx(5.0)
    assert table.loc["mednext_B_k3", "budget_run"] == "2x4" and table["synthetic"].all()
    # a model whose folds trained with different checkpointing says so (time and memory are not comparable)
    assert table.loc["mednext_B_k3", "checkpointing"] == "block,none" and table.loc["nnunet", "checkpointing"] == "-"
    assert np.isnan(table.loc["nnunet", "gflops"])
    comparisons = out["comparisons"]
    assert set(comparisons["family"]) == {"vs nnU-Net", "ablation"}
    # one Holm family per (family, metric), named in each row; NSD rows say NSD
    for (family, metric), rows in comparisons.groupby(["family", "metric"]):
        assert rows["holm_family"].nunique() == 1 and (rows["holm_m"] == len(rows)).all()
    nsd_rows = comparisons[comparisons.metric == "physical_nsd"]
    assert nsd_rows["holm_family"].str.contains("NSD").all() and not nsd_rows["holm_family"].str.contains("Dice").any()
    assert (comparisons[(comparisons.family == "vs nnU-Net")]["holm_m"] == 4).all()
    assert len(out["per_class"]) == 2 * len(MODELS)
    assert (table["note"] == "").all()  # no transformer among them
    # learning curves from run records: one row per model, fold and validation (epochs_trained 0: before training,
    # where the record has it); UpKern's head start before training and after the first epoch
    records = [{"model": m, "fold": f, "budget": {"epochs": 2, "iterations": 7}, "learning_curve": {
        "train_loss": [1.0, 0.5], "val_loss": [0.2 if m.endswith("upkern") else 0.9, 0.1],
        "pseudo_dice": [0.3, 0.8], "ema_pseudo_dice": [0.03, 0.1]},
        **({"before_training": {"val_loss": 0.5 + f, "pseudo_dice": 0.6}} if m.startswith("mednext_B_k5") else {})}
        for m in MODELS for f in (0, 1)]
    curves = learning_curves(records + [{"model": "unetr", "fold": 0}])  # a record without a curve adds no rows
    assert len(curves) == len(MODELS) * 2 * 2 + 2 * 2
    assert sorted(curves["epochs_trained"].unique()) == [0, 1, 2]
    first = curves[(curves.model == "mednext_B_k5_upkern") & (curves.fold == 1)]
    assert first["epochs_trained"].tolist() == [0, 1, 2] and np.isnan(first["train_loss"].iloc[0])
    assert first["val_loss"].tolist() == [1.5, 0.2, 0.1] and first["iterations_trained"].tolist() == [0, 7, 14]
    head = upkern_head_start(curves, MODELS)
    assert head.to_dict("records") == [
        {"model": "mednext_B_k5_upkern", "reference": "mednext_B_k5", "epochs_trained": 0,
         "model_pseudo_dice": 0.6, "model_val_loss": 1.0, "reference_pseudo_dice": 0.6, "reference_val_loss": 1.0},
        {"model": "mednext_B_k5_upkern", "reference": "mednext_B_k5", "epochs_trained": 1,
         "model_pseudo_dice": 0.3, "model_val_loss": 0.2, "reference_pseudo_dice": 0.3, "reference_val_loss": 0.9}]
    written = make_figures(out["table"], per_case, out["comparisons"], out["ranks"], tmp_path, "d", "Demo", True,
                           learning=curves)
    assert len(written) == 10 and all(p.stat().st_size > 1000 for p in written)
    assert (tmp_path / "d_learning.png").stat().st_size > 10000
    # models without a curve (here all but the last) leave the others' curves in the figure
    plotted = {}

    def keep_lines(fig, out, stem):
        plotted[stem] = [line.get_label() for line in fig.axes[0].get_lines()]
        return []

    monkeypatch.setattr(figures, "_save", keep_lines)
    make_figures(out["table"], per_case, out["comparisons"], out["ranks"], tmp_path, "d", "Demo", True,
                 learning=curves[curves.model == MODELS[-1]])
    assert plotted["d_learning"] == [labels[MODELS[-1]]]


def test_transformers_below_half_dice_say_why():
    per_case = _per_case(np.random.default_rng(1))
    per_case.loc[per_case.model == "mednext_B_k3_twice", "model"] = "unetr"
    per_case.loc[per_case.model == "unetr", ["paper_dice", "physical_dice"]] = 0.3
    per_case.loc[per_case.model == "mednext_B_k5", "model"] = "swinunetr"  # Dice ~0.72: no note
    models = ["nnunet", "mednext_B_k3", "swinunetr", "mednext_B_k5_upkern", "unetr"]

    def table_at(epochs, iterations):
        records = summarise_run_records([{"model": m, "epochs_completed": epochs, "budget": {"iterations": iterations}}
                                         for m in models])
        return dataset_tables(per_case, {m: m for m in models}, records=records, n_resamples=200)["table"].set_index(
            "model")

    table = table_at(3, 15)  # shorter than the paper's: the reason the note gives
    assert table.loc["unetr", "note"] == TRANSFORMER_NOTE
    assert table.loc["swinunetr", "note"] == "" and table.loc["mednext_B_k3", "note"] == ""
    # at the paper's budget, or without records, nothing shows that the budget was too short
    assert (table_at(1000, 250)["note"] == "").all()
    assert (dataset_tables(per_case, {m: m for m in models}, n_resamples=200)["table"]["note"] == "").all()


def test_ablation_and_published_tables():
    from pathlib import Path

    from mednext.evaluation.tables import ablation_table, published_comparison

    per_case = _per_case(np.random.default_rng(1))
    out = dataset_tables(per_case, {m: m for m in MODELS}, n_resamples=300)
    abl = ablation_table({"btcv": out["comparisons"]}, {"btcv": out["table"]})
    upkern = abl[(abl.model == "mednext_B_k5_upkern") & (abl.metric == "paper_dice")].set_index("reference")
    assert list(upkern.index) == ["mednext_B_k5", "mednext_B_k3_twice", "mednext_B_k3"]
    assert upkern.loc["mednext_B_k3_twice", "comparison"] == "UpKern k5 vs k3 trained twice (equal training compute)"
    row = upkern.loc["mednext_B_k5"]
    assert row.mean_diff == pytest.approx(row.model_mean - row.reference_mean)
    published = pd.read_csv(Path(__file__).resolve().parents[2] / "paper" / "published.csv")
    side = published_comparison({"btcv": out["table"]}, published)
    nn = side[(side.dataset == "btcv") & (side.model == "nnunet")].iloc[0]
    assert nn.published_dice == 83.08 and "Isensee" in nn.source and nn.published_n_cases == 30
    assert nn.ours_dice == pytest.approx(100 * out["table"].set_index("model").loc["nnunet", "paper_dice_mean"])
    assert nn.comparable == "not comparable: 30 cases published, 12 evaluated here"  # our 12 test cases
    amos = side[side.dataset == "amos22"]
    assert amos.ours_dice.isna().all()  # not run: left empty, never invented
    assert amos.comparable.str.startswith("not comparable: the published n=360 includes the MRI cases").all()
    assert (side[side.dataset == "brats21"].comparable == "yes").all()
    # the published runs trained the full schedule: a shorter run of ours is not set beside them as comparable
    for budget, verdict in (("1000x250", "yes"),
                            ("5x10", "not comparable: trained 5x10 (epochs x iterations), published 1000x250")):
        table = out["table"].assign(n_cases=30, budget_run=budget)
        nn = published_comparison({"btcv": table}, published).query("dataset == 'btcv' and model == 'nnunet'").iloc[0]
        assert nn.comparable == verdict and nn.ours_budget == budget
    assert side.published_averaging.str.contains("per class the mean over cases").all()


def test_each_ablation_question_names_the_model_first():
    # tables report model minus reference under the question: its left side must be the model's
    from mednext.nnunet.registry import ABLATIONS, model_spec
    for a in ABLATIONS:
        model, reference = model_spec(a.model), model_spec(a.reference)
        left, right = a.question.split(" vs ")
        if model.residual_resampling != reference.residual_resampling:
            assert ("residual" if model.residual_resampling else "plain") in left, a
        if model.kernel_size != reference.kernel_size:
            assert f"k{model.kernel_size}" in left and f"k{reference.kernel_size}" in right, a
        if (model.depends_on is None) != (reference.depends_on is None):
            assert ("UpKern" in left) == (model.key.endswith("_upkern")), a
