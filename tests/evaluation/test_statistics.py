"""Statistics on data with known answers."""

import numpy as np
import pandas as pd
import pytest

from mednext.evaluation.statistics import (bootstrap_paper_ci, case_scores, class_means, compare_models, holm,
                                           paired_comparison, paper_average, rank_stability, summarise)


def _table(scores: dict[str, list[float]], regions=("r1",)) -> pd.DataFrame:
    rows = []
    for model, values in scores.items():
        for i, v in enumerate(values):
            for region in regions:
                rows.append({"model": model, "case": f"c{i}", "region": region, "dice": v, "nsd": v})
    return pd.DataFrame(rows)


def test_holm_known_answer():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.5, np.nan, 0.01])
    assert np.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2]], [0.5, 0.02])
    np.testing.assert_allclose(holm([0.9, 0.8]), [1.0, 1.0])  # 2 x 0.8 capped at 1; monotone


def test_wilcoxon_exact_p_for_all_positive_differences():
    b = np.linspace(0.5, 0.7, 10)
    a = b + np.arange(1, 11) * 0.001  # ten distinct positive differences
    result = paired_comparison(a, b, n_resamples=2000)
    assert result["p_wilcoxon"] == pytest.approx(2 / 2**10)
    assert result["mean_diff"] == pytest.approx(0.0055)
    assert result["ci_low"] <= 0.0055 <= result["ci_high"]
    assert 0.001 <= result["ci_low"] and result["ci_high"] <= 0.010


def test_bootstrap_is_seeded_and_covers_the_shift():
    rng = np.random.default_rng(3)
    b = rng.uniform(0.6, 0.9, 40)
    a = b + 0.05 + rng.normal(0, 0.01, 40)
    first = paired_comparison(a, b, seed=7)
    assert first == paired_comparison(a, b, seed=7)
    assert first["ci_low"] < 0.05 < first["ci_high"]
    assert first["ci_high"] - first["ci_low"] < 0.02


def test_identical_models_give_p_one_and_zero_ci():
    a = np.array([0.5, 0.6, 0.7])
    result = paired_comparison(a, a.copy())
    assert result["p_wilcoxon"] == 1.0 and result["ci_low"] == result["ci_high"] == 0.0


def test_case_scores_average_regions_and_skip_nan():
    df = _table({"m": [0.8, 0.6]}, regions=("r1", "r2"))
    df.loc[(df.case == "c0") & (df.region == "r2"), "dice"] = np.nan
    scores = case_scores(df, "dice")
    assert scores.loc["c0", "m"] == 0.8 and scores.loc["c1", "m"] == 0.6
    summary = summarise(df, "dice")
    assert summary.loc["m", "dice_mean"] == pytest.approx(0.7)
    assert summary.loc["m", "dice_undefined"] == 1
    assert summary.loc["m", "n_cases"] == 2


def test_compare_models_holm_and_rank_stability():
    base = np.linspace(0.5, 0.8, 12)
    df = _table({"nnunet": list(base), "better": list(base + 0.05 + np.arange(12) * 1e-3),
                 "same": list(base + np.tile([1e-3, -1e-3], 6))})
    table = compare_models(df, "dice", [("better", "nnunet"), ("same", "nnunet")], n_resamples=500)
    better = table.set_index("model").loc["better"]
    assert better["p_wilcoxon"] == pytest.approx(2 / 2**12)
    assert better["p_holm"] == pytest.approx(min(1, 2 * 2 / 2**12))
    assert table.set_index("model").loc["same", "p_holm"] > 0.5
    ranks = rank_stability(df, "dice", n_resamples=200)
    assert ranks.loc["better", "rank_1"] == 1.0
    np.testing.assert_allclose(ranks.sum(axis=1), 1.0)


def test_official_averaging_by_hand_with_a_missing_class():
    """Per class the mean over cases with NaN dropped, then the mean of the classes; and "nan is 1"."""
    nan = np.nan
    scores = {("c0", "kidney"): 0.9, ("c0", "tumor"): 0.5,
              ("c1", "kidney"): 0.7, ("c1", "tumor"): nan,  # no tumor in reference or prediction
              ("c2", "kidney"): 0.8, ("c2", "tumor"): 0.2}
    df = pd.DataFrame([{"model": "m", "case": c, "region": r, "dice": v} for (c, r), v in scores.items()])
    # kidney (0.9 + 0.7 + 0.8) / 3 = 0.8; tumor (0.5 + 0.2) / 2 = 0.35; mean of the classes 0.575
    official = paper_average(df, "dice").loc["m"]
    assert official["dice"] == pytest.approx(0.575)
    # nan is 1: tumor (0.5 + 1 + 0.2) / 3 = 0.5667; (0.8 + 0.5667) / 2 = 0.68333
    assert official["dice_nan_is_1"] == pytest.approx((0.8 + 1.7 / 3) / 2)
    assert class_means(df, "dice").loc["m", "tumor"] == pytest.approx(0.35)
    # not the per-case average: cases (0.7, 0.7, 0.5) -> 0.6333
    assert summarise(df, "dice").loc["m", "dice_mean"] == pytest.approx(1.9 / 3)
    low, high = bootstrap_paper_ci(df, "dice", n_resamples=500)["m"]
    assert low <= 0.575 <= high
    # a class undefined in every case is left out of the class average
    only_nan = df.assign(dice=[0.9, nan, 0.7, nan, 0.8, nan])
    assert paper_average(only_nan, "dice").loc["m", "dice"] == pytest.approx(0.8)
