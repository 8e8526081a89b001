"""Which label values each evaluated class (region) covers, per dataset.

By default the regions come from the dataset's ``dataset.json`` (nnU-Net format): an integer
label is its own region, a tuple label (nnU-Net region-based training, e.g. BraTS) is the union
of its values. Dataset-specific conventions of the paper override that:

* KiTS19: "kidney" is evaluated as kidney + tumor (labels 1 and 2), "tumor" as label 2.
* BraTS21 (after nnU-Net's label conversion 2->1 edema, 1->2 necrosis, 4->3 enhancing):
  whole tumor {1, 2, 3}, tumor core {2, 3}, enhancing tumor {3}.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["OVERRIDES", "regions_from_dataset_json", "regions_for"]

OVERRIDES: dict[str, dict[str, tuple[int, ...]]] = {
    "kits19": {"kidney": (1, 2), "tumor": (2,)},
    "brats21": {"whole tumor": (1, 2, 3), "tumor core": (2, 3), "enhancing tumor": (3,)},
}


def regions_from_dataset_json(dataset_json: Mapping) -> dict[str, tuple[int, ...]]:
    """Every non-background label of an nnU-Net ``dataset.json`` as a region."""
    regions = {}
    for name, value in dataset_json["labels"].items():
        values = tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else (int(value),)
        if values == (0,) or name == "background":
            continue
        if name == "ignore":
            continue
        regions[name] = values
    if not regions:
        raise ValueError("dataset.json defines no foreground labels")
    return regions


def regions_for(dataset: str, dataset_json: Mapping) -> dict[str, tuple[int, ...]]:
    """The regions evaluated for ``dataset`` (config key such as ``btcv``, ``kits19``, ``phantom``)."""
    return dict(OVERRIDES.get(dataset, regions_from_dataset_json(dataset_json)))

