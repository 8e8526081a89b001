"""Shipped 5-fold splits: reproducible from nnU-Net's generator, checked against the dataset."""

import json
import re
from pathlib import Path

import pytest

from mednext.data.splits import make_splits, pinned_splits
from mednext.data.validate import DatasetError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {"btcv": [f"BTCV_{i:04d}" for i in [*range(1, 11), *range(21, 41)]],
           "kits19": [f"case_{i:05d}" for i in range(210)]}


@pytest.mark.parametrize("dataset", sorted(SHIPPED))
def test_shipped_splits_are_nnunets_seeded_split_of_the_whole_dataset(dataset):
    shipped = json.loads((ROOT / "config" / "splits" / f"{dataset}.json").read_text())
    assert shipped == make_splits(SHIPPED[dataset])
    vals = [case for fold in shipped for case in fold["val"]]
    assert sorted(vals) == sorted(SHIPPED[dataset])  # every case validated exactly once
    for fold in shipped:
        assert not set(fold["train"]) & set(fold["val"])


def test_a_dataset_that_differs_from_the_shipped_splits_is_refused(tmp_path):
    cases = SHIPPED["btcv"][:-1]  # one case missing
    with pytest.raises(DatasetError, match=r"btcv\.json: fold 0 .* 29 cases .*present but unlisted: \[\]") as err:
        pinned_splits(cases, ROOT / "config" / "splits" / "btcv.json", write_if_missing=False)
    # what to do, also where the case list changed on purpose (amos22's `cases`)
    assert re.search(r"other `cases` in its config.*delete the file.*add the other as a variant", str(err.value))


def test_missing_splits_are_generated_once_and_then_reused(tmp_path):
    cases = [f"c{i:03d}" for i in range(12)]
    path = tmp_path / "splits" / "amos22.json"
    first, how = pinned_splits(cases, path, write_if_missing=True)
    assert how == "generated and recorded" and json.loads(path.read_text()) == first
    again, how = pinned_splits(cases, path, write_if_missing=True)
    assert how == "shipped" and again == first
    _, how = pinned_splits(cases, tmp_path / "other.json", write_if_missing=False)
    assert how == "generated" and not (tmp_path / "other.json").exists()
