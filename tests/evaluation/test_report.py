"""paper/results.md: written from the tables and figures, with their numbers and the synthetic warning."""

import numpy as np
import pandas as pd
import pytest

from mednext.evaluation.figures import make_figures
from mednext.evaluation.report import console_summary, markdown_table, render_paper, write_paper
from mednext.evaluation.tables import ablation_table, dataset_tables, learning_curves

from .test_tables_figures import MODELS, _per_case


def _results(tmp_path, synthetic: bool):
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    per_case = _per_case(np.random.default_rng(3))
    labels = {m: m.replace("_", " ") for m in MODELS}
    out = dataset_tables(per_case, labels, synthetic=synthetic, n_resamples=200)
    for name in ("table", "per_class", "comparisons", "ranks"):
        suffix = "" if name == "table" else f"_{name}"
        out[name].to_csv(results / "tables" / f"d{suffix}.csv", index=False)
    ablation_table({"d": out["comparisons"]}, {"d": out["table"]}).to_csv(results / "tables" / "ablations.csv",
                                                                        index=False)
    curves = learning_curves([{"model": m, "fold": 0, "budget": {"iterations": 5}, "learning_curve": {
        "train_loss": [1.0, 0.4], "val_loss": [0.25 if m == "mednext_B_k5_upkern" else 0.75, 0.1],
        "pseudo_dice": [0.2, 0.7], "ema_pseudo_dice": [0.02, 0.09]},
        "before_training": {"val_loss": 0.5 if m == "mednext_B_k5_upkern" else 1.5, "pseudo_dice": 0.1}}
        for m in MODELS])
    curves.to_csv(results / "tables" / "d_learning.csv", index=False)
    make_figures(out["table"], per_case, out["comparisons"], out["ranks"], results / "figures", "d", "Demo",
                 synthetic, learning=curves)
    return results, out


def test_paper_inlines_the_tables_and_embeds_existing_figures(tmp_path):
    results, out = _results(tmp_path, synthetic=False)
    path = write_paper(tmp_path / "paper" / "results.md", results, {"d": "Demo"})
    text = path.read_text()
    assert "SYNTHETIC" not in text
    row = out["table"].set_index("model").loc["mednext_B_k5_upkern"]
    expected = (f"| mednext B k5 upkern | {100 * row.paper_dice_mean:.2f} "
                f"[{100 * row.paper_dice_ci_low:.2f}, {100 * row.paper_dice_ci_high:.2f}] | "
                f"{100 * row.paper_dice_mean_nan_is_1:.2f} | ")
    assert expected in text
    physical = (f"| {100 * row.physical_nsd_mean:.2f} ± {100 * row.physical_nsd_sd:.2f} "
                f"[{100 * row.physical_nsd_ci_low:.2f}, {100 * row.physical_nsd_ci_high:.2f}] |")
    assert physical in text
    assert "| Dice (paper) | Dice (paper, nan is 1) | SDC (paper: unit spacing, tol. 1 voxel) |" in text
    assert "nnU-Net **v1**" in text and "**5-fold cross-validation** is reproduced" in text
    liver = out["per_class"].query("model == 'nnunet' and region == 'liver'")["paper_dice"].item()
    assert f"| liver | {100 * liver:.2f} |" in text
    assert ("**UpKern head start.** mednext B k5 upkern vs mednext B k5 (from scratch): before training, "
            "validation pseudo Dice 0.100 vs 0.100 (NOT higher) and loss 0.500 vs 1.500 (lower); after the first "
            "epoch, validation pseudo Dice 0.200 vs 0.200 (NOT higher) and loss 0.250 vs 0.750 (lower).") in text
    for kind in ("scaling", "per_class", "ablation", "ranks", "learning"):
        link = f"](../results/figures/d_{kind}.png)"
        assert link in text and (tmp_path / "paper" / link[2:-1]).resolve().is_file()
    assert "## Ablations" in text
    assert "mednext_B_k5_upkern | mednext_B_k5 | NSD (physical protocol: image spacing, tolerance in mm) |" in text
    assert "the ablations vs their references on per-case NSD (physical protocol" in text


def test_synthetic_results_say_so(tmp_path):
    results, _ = _results(tmp_path, synthetic=True)
    text = render_paper(results, {"d": "Demo"}, tmp_path / "paper")
    assert text.startswith("# MedNeXt benchmark: results (SYNTHETIC DATA)")
    assert "## Demo (SYNTHETIC DATA)" in text


def test_p_values_below_a_thousandth_and_case_counts_that_differ_are_said_as_such(tmp_path):
    from mednext.evaluation.report import _p

    assert [_p(v) for v in (0.0004, 0.0123, 1.0, np.nan)] == ["< 0.001", "0.012", "1.000", ""]
    results, out = _results(tmp_path, synthetic=False)
    assert "12 cases evaluated" in render_paper(results, {"d": "Demo"}, tmp_path / "paper")
    table = out["table"].copy()
    table.loc[table.model == "mednext_B_k3", "n_cases"] = 11  # a model with a prediction short
    table.to_csv(results / "tables" / "d.csv", index=False)
    assert "11 to 12 cases (models differ: n_cases per model) evaluated" in render_paper(
        results, {"d": "Demo"}, tmp_path / "paper")


def test_markdown_table_formats_and_blanks_missing_values():
    df = pd.DataFrame({"a": ["x", "y"], "b": [0.12345, np.nan]})
    assert markdown_table(df, {"a": "A", "b": "B"}, {"b": lambda v: "" if pd.isna(v) else f"{v:.2f}"}) == \
        "| A | B |\n|---|---|\n| x | 0.12 |\n| y |  |"


def test_console_summary_names_each_models_dice_and_upkerns_head_start(tmp_path):
    results, out = _results(tmp_path, synthetic=True)
    text = console_summary(results, {"d": "Demo", "missing": "Not run"})
    row = out["table"].set_index("model").loc["nnunet"]
    assert text.startswith("Demo (SYNTHETIC DATA): mean Dice over classes and 12 out-of-fold cases")
    assert f"  nnunet{' ' * 27}{100 * row.paper_dice_mean:6.1f}" in text.splitlines()
    assert "UpKern head start" in text and "Not run" not in text


def test_console_summary_gives_each_models_case_count_where_they_differ(tmp_path):
    # before: "over 12 out-of-fold cases" for every model, also for one evaluated on 6 of them
    results, out = _results(tmp_path, synthetic=True)
    table = out["table"].reset_index()
    table.loc[table.model == "mednext_B_k3", "n_cases"] = 6
    table.to_csv(results / "tables" / "d.csv", index=False)
    lines = console_summary(results, {"d": "Demo"}).splitlines()
    assert lines[0] == "Demo (SYNTHETIC DATA): mean Dice over classes and each model's out-of-fold cases (n below) " \
                       "(paper protocol, %)"
    assert [line for line in lines if line.startswith("  mednext B k3 ")][0].endswith("n=6)")
    assert [line for line in lines if line.startswith("  nnunet ")][0].endswith("n=12)")


def test_report_and_figures_clis_name_what_is_missing(tmp_path, capsys):
    # before: a FileNotFoundError / "No objects to concatenate" traceback
    from mednext.evaluation import figures, report

    empty = tmp_path / "results"
    out = tmp_path / "paper" / "results.md"
    with pytest.raises(SystemExit) as exit_:
        report.main(["--results", str(empty), "--datasets", "btcv", "--out", str(out)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"{empty / 'tables' / 'btcv.csv'}: not found" in err
    assert "snakemake results/tables/btcv.csv" in err and not out.exists()
    with pytest.raises(SystemExit) as exit_:
        figures.main(["--dataset", "btcv", "--results", str(empty)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"{empty / 'per_case' / 'btcv'}: no per-case CSVs" in err
    # per-case rows present, tables not yet made
    (empty / "per_case" / "btcv").mkdir(parents=True)
    _per_case(np.random.default_rng(0)).to_csv(empty / "per_case" / "btcv" / "nnunet.csv", index=False)
    with pytest.raises(SystemExit) as exit_:
        figures.main(["--dataset", "btcv", "--results", str(empty)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"{empty / 'tables' / 'btcv.csv'}" in err and "not found" in err
    assert not (empty / "figures").exists()
