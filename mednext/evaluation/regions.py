"""Which label values each evaluated class covers, per dataset and evaluation protocol.

Two protocols are always computed side by side (``mednext.evaluation.metrics``):

* ``paper``: the official MedNeXt evaluation (MIC-DKFZ/MedNeXt,
  ``nnunet_mednext/evaluation/region_based_evaluation.py``). KiTS19 "kidney" is label 1 alone
  (``get_kits19_regions``), "tumor" label 2.
* ``physical``: the KiTS challenge's definition, "kidney" = kidney incl. tumor (labels 1 and 2).

Both protocols evaluate the same class names, so one per-case row holds both. BraTS21 (labels
after the Task137/Dataset137 conversion: 1 edema, 2 non-enhancing tumor, 3 enhancing tumor) is
evaluated on the BraTS regions in both: whole tumor {1, 2, 3}, tumor core {2, 3}, enhancing
tumor {3}. Every other dataset evaluates each non-background label of its ``dataset.json`` (a
tuple label of nnU-Net's region-based format is the union of its values).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["PROTOCOLS", "OVERRIDES", "allowed_labels", "classes_for", "regions_for", "regions_from_dataset_json"]

PROTOCOLS = ("paper", "physical")
BRATS_REGIONS = {"whole tumor": (1, 2, 3), "tumor core": (2, 3), "enhancing tumor": (3,)}
OVERRIDES: dict[str, dict[str, dict[str, tuple[int, ...]]]] = {
    "paper": {"kits19": {"kidney": (1,), "tumor": (2,)}, "brats21": BRATS_REGIONS},
    "physical": {"kits19": {"kidney": (1, 2), "tumor": (2,)}, "brats21": BRATS_REGIONS},
}


def regions_from_dataset_json(dataset_json: Mapping) -> dict[str, tuple[int, ...]]:
    """Every non-background label of an nnU-Net ``dataset.json`` as a region."""
    regions = {}
    for name, value in dataset_json["labels"].items():
        values = tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else (int(value),)
        if values == (0,) or name in ("background", "ignore"):
            continue
        regions[name] = values
    if not regions:
        raise ValueError("defines no foreground labels (only background/ignore); add each evaluated class to "
                         '"labels", e.g. {"background": 0, "liver": 1}')
    return regions


def regions_for(dataset: str, dataset_json: Mapping, protocol: str = "paper") -> dict[str, tuple[int, ...]]:
    """The regions ``protocol`` evaluates for ``dataset`` (config key such as ``btcv``, ``kits19``, ``phantom``)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown evaluation protocol {protocol!r}; expected one of {PROTOCOLS}")
    override = OVERRIDES[protocol].get(dataset)
    return dict(override) if override is not None else regions_from_dataset_json(dataset_json)


def classes_for(dataset: str, dataset_json: Mapping) -> dict[str, dict[str, tuple[int, ...]]]:
    """Class name -> {protocol: label values}: what each protocol evaluates for every class of ``dataset``."""
    per_protocol = {p: regions_for(dataset, dataset_json, p) for p in PROTOCOLS}
    names = list(per_protocol[PROTOCOLS[0]])
    assert all(list(r) == names for r in per_protocol.values()), "protocols must evaluate the same classes"
    return {name: {p: per_protocol[p][name] for p in PROTOCOLS} for name in names}


def ignore_label(dataset_json: Mapping) -> int | None:
    """The value of nnU-Net's ``ignore`` label (sparse annotations), or None where ``dataset.json`` has none."""
    value = dataset_json["labels"].get("ignore")
    return None if value is None else int(value)


def allowed_labels(classes: Mapping[str, Mapping[str, tuple[int, ...]]]) -> list[int]:
    """Background and every label value some class covers: anything else in a label map is an error."""
    return sorted({0} | {v for per in classes.values() for labels in per.values() for v in labels})
