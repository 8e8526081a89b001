"""``mednext-evaluate``: score a folder of predictions against references under both protocols.

    mednext-evaluate --dataset kits19 --pred my_preds/ --ref nnUNet_raw/Dataset003_KiTS19/labelsTr -o per_case.csv

Writes the per-case table of the workflow's rule ``evaluate`` (``mednext.evaluation.per_case``:
one row per case x class, the ``paper`` and the ``physical`` protocol side by side) and prints
the per-class summary of both protocols. ``--dataset`` picks the paper's class conventions
(KiTS19 kidney, BraTS regions); ``--dataset-json`` is a dataset's nnU-Net ``dataset.json`` (your
own dataset, or the label names of one of the four). Without it, ``REF/../dataset.json`` is used
if it exists (``REF`` is an nnU-Net ``labelsTr`` folder), else the labels our converter writes
for BTCV, KiTS19 and BraTS21.

Cases: every reference file, or with ``--splits`` (nnU-Net's ``splits_final.json``) the
validation cases of the folds given, which also fills the ``fold`` column (``-1`` without it).
Any bad input stops the run with the file named and writes nothing: a split case without
reference, a missing prediction, a prediction without reference, a shape or affine mismatch, a
label value the dataset does not define.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mednext.evaluation.metrics import EvaluationError, label_text
from mednext.evaluation.per_case import METRICS, evaluate_predictions, write_atomic_csv
from mednext.evaluation.regions import allowed_labels, classes_for, ignore_label
from mednext.evaluation.statistics import case_scores, paper_average

__all__ = ["DATASETS", "summary", "main"]

DATASETS = ("btcv", "amos22", "kits19", "brats21")


def _read_dataset_json(path: Path) -> dict:
    """A dataset.json with the labels evaluation needs, or an error naming it."""
    try:
        dataset_json = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise EvaluationError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(dataset_json, dict) or not isinstance(dataset_json.get("labels"), dict):
        raise EvaluationError(f'{path}: no labels; add nnU-Net\'s "labels" (name -> integer value, e.g. '
                              '{"background": 0, "kidney": 1})')
    return dataset_json


def _dataset_json(args) -> tuple[dict, str]:
    """The dataset.json to use and where it came from."""
    candidates = [Path(args.dataset_json)] if args.dataset_json else [Path(args.ref).resolve().parent / "dataset.json"]
    for path in candidates:
        if path.is_file():
            return _read_dataset_json(path), str(path)
        if args.dataset_json:
            raise EvaluationError(f"{path}: file not found")
    from mednext.data.convert import BRATS21_LABELS, BTCV_LABELS, KITS19_LABELS

    builtin = {"btcv": BTCV_LABELS, "kits19": KITS19_LABELS, "brats21": BRATS21_LABELS}
    if args.dataset not in builtin:
        raise EvaluationError(f"no dataset.json beside {args.ref} and none given: pass --dataset-json (the "
                              f"dataset.json of the converted {args.dataset or 'dataset'})")
    return {"labels": builtin[args.dataset], "file_ending": ".nii.gz"}, f"built-in labels of {args.dataset}"


def _cases(args, ref: Path, ending: str) -> dict[str, int]:
    """Case -> fold (-1 where no splits are given)."""
    if not ref.is_dir():
        raise EvaluationError(f"{ref}: reference folder not found")
    if args.splits is None:
        cases = {p.name[: -len(ending)]: -1 for p in sorted(ref.glob(f"*{ending}"))}
    else:
        try:
            splits = json.loads(Path(args.splits).read_text())
            folds = args.folds if args.folds is not None else list(range(len(splits)))
            outside = [f for f in folds if not 0 <= f < len(splits)]
            if outside:
                raise EvaluationError(f"--folds {' '.join(map(str, outside))}: {args.splits} has folds "
                                      f"0 to {len(splits) - 1}; pass folds of that range")
            cases = {c: f for f in folds for c in splits[f]["val"]}
        except (OSError, json.JSONDecodeError, KeyError, IndexError, TypeError) as err:
            raise EvaluationError(f"{args.splits}: not a readable nnU-Net splits file with folds "
                                  f"{args.folds or 'all'} ({err})") from err
    if not cases:
        raise EvaluationError(f"{ref}: no reference files (*{ending}) to evaluate")
    return cases


def _check_files(args, cases: dict[str, int], pred: Path, ref: Path, ending: str) -> None:
    """Every case has a reference and a prediction, and (without splits) every prediction a reference."""
    if not pred.is_dir():
        raise EvaluationError(f"{pred}: prediction folder not found")
    for case in cases:
        reference, prediction = ref / f"{case}{ending}", pred / f"{case}{ending}"
        if not reference.is_file():  # a split case (or a broken link in --ref)
            of_splits = f" of {args.splits}; is --ref the labelsTr of their dataset?" if args.splits else ""
            raise EvaluationError(f"{reference}: missing reference for case {case}{of_splits}")
        if not prediction.is_file():
            raise EvaluationError(f"{prediction}: missing prediction for reference case {case} ({reference})")
    if args.splits is None:
        orphans = sorted(p.name for p in pred.glob(f"*{ending}") if p.name[: -len(ending)] not in cases)
        if orphans:
            raise EvaluationError(f"{pred / orphans[0]}: prediction without a reference in {ref}")


def summary(per_case: pd.DataFrame) -> pd.DataFrame:
    """Per class, and the class average, of both protocols as each one averages (in %)."""
    rows = {}
    for metric in METRICS["paper"]:
        by_class = per_case.groupby("region", sort=False)[metric]
        rows[metric] = by_class.mean()
        rows[f"{metric} (nan is 1)"] = per_case[metric].fillna(1.0).groupby(per_case["region"], sort=False).mean()
    for metric in METRICS["physical"]:
        rows[metric] = per_case.groupby("region", sort=False)[metric].mean()
    table = pd.DataFrame(rows)
    overall = {}
    for metric in METRICS["paper"]:
        official = paper_average(per_case.assign(model="m"), metric).loc["m"]
        overall[metric], overall[f"{metric} (nan is 1)"] = official[metric], official[f"{metric}_nan_is_1"]
    for metric in METRICS["physical"]:
        overall[metric] = case_scores(per_case.assign(model="m"), metric)["m"].mean()
    table.loc["mean (each protocol's averaging)"] = pd.Series(overall)
    return 100 * table


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mednext-evaluate", description=__doc__.split("\n\n")[0],
                                epilog="Protocols: paper = the official MedNeXt evaluation (Dice, SDC at unit "
                                       "spacing with tolerance 1 voxel; per class mean over cases, then mean of "
                                       "classes); physical = Dice and NSD at the image spacing, tolerance in mm "
                                       "(mean over cases of each case's class mean).")
    p.add_argument("--dataset", choices=DATASETS, help="one of the paper's datasets (its class conventions)")
    p.add_argument("--dataset-json", help="the dataset's nnU-Net dataset.json (required for your own dataset)")
    p.add_argument("--pred", required=True, help="folder of predictions <case><file_ending>")
    p.add_argument("--ref", required=True, help="folder of reference label maps <case><file_ending> (labelsTr)")
    p.add_argument("-o", "--output", required=True, help="per-case CSV to write")
    p.add_argument("--tolerance-mm", type=float, default=1.0, help="NSD tolerance of the physical protocol (1.0)")
    p.add_argument("--model", help="the model column (default: the prediction folder's name)")
    p.add_argument("--name", help="the dataset column (default: --dataset, else the dataset.json's name)")
    p.add_argument("--splits", help="nnU-Net splits_final.json: evaluate its validation cases, fill the fold column")
    p.add_argument("--folds", type=int, nargs="+", help="with --splits: only these folds (default: all)")
    args = p.parse_args(argv)
    if not args.dataset and not args.dataset_json:
        p.error("give --dataset (btcv, amos22, kits19, brats21) or --dataset-json for your own dataset")
    if args.folds is not None and args.splits is None:
        p.error("--folds needs --splits (the splits_final.json whose validation folds to evaluate)")
    if Path(args.output).is_dir():
        p.error(f"-o {args.output}: a folder; give the per-case CSV to write, e.g. "
                f"{Path(args.output) / 'per_case.csv'}")
    blocking = next((d for d in Path(args.output).absolute().parents if d.exists() and not d.is_dir()), None)
    if blocking is not None:
        p.error(f"-o {args.output}: {blocking} is a file, not a folder; give a CSV path in a folder")
    try:
        dataset_json, source = _dataset_json(args)
        try:
            classes = classes_for(args.dataset or "", dataset_json)
        except ValueError as err:
            raise EvaluationError(f"{source}: {err}") from err
        key = args.name or args.dataset or str(dataset_json.get("name")
                                               or Path(args.dataset_json).resolve().parent.name)
        ending = dataset_json.get("file_ending", ".nii.gz")
        pred, ref = Path(args.pred), Path(args.ref)
        cases = _cases(args, ref, ending)
        _check_files(args, cases, pred, ref, ending)
        listing = pd.DataFrame([{"case": c, "fold": f, "path": str(pred / f"{c}{ending}")} for c, f in cases.items()])
        per_case = evaluate_predictions(listing, ref, classes, args.tolerance_mm, key,
                                        args.model or pred.resolve().name, allowed_labels(classes), ending,
                                        ignore_label(dataset_json))
    except (EvaluationError, ValueError) as err:
        print(f"error: {err}; nothing written", file=sys.stderr)
        return 1
    write_atomic_csv(per_case, args.output)
    print(f"{len(cases)} cases of {key} ({source}); classes: "
          + ", ".join(f"{n} = paper {label_text(c['paper'])} / physical {label_text(c['physical'])}"
                      for n, c in classes.items()))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary(per_case).round(2).to_string())
    print(f"per-case table: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
