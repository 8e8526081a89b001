"""Per-case metrics of one model's out-of-fold predictions under both protocols (rule evaluate)."""

import json
from pathlib import Path

import pandas as pd

from mednext.data.validate import DatasetError
from mednext.evaluation.metrics import EvaluationError
from mednext.evaluation.per_case import evaluate_predictions, write_atomic_csv
from mednext.evaluation.regions import allowed_labels, classes_for, ignore_label
from rule_log import rule_log

with rule_log(snakemake.log[0], expected=(EvaluationError, DatasetError)):  # noqa: F821
    sm = snakemake  # noqa: F821
    dataset_json = json.loads(Path(sm.input.dataset_json).read_text())
    try:
        classes = classes_for(sm.params.classes_of, dataset_json)
    except ValueError as err:
        raise EvaluationError(f"{sm.input.dataset_json}: {err}") from err
    predictions = pd.read_csv(sm.input.predictions, sep="\t")
    labels = Path(sm.input.dataset_json).parent / "labelsTr"
    per_case = evaluate_predictions(predictions, labels, classes, sm.params.tolerance, sm.wildcards.dataset,
                                    sm.wildcards.model, allowed_labels(classes), dataset_json["file_ending"],
                                    ignore_label(dataset_json))
    write_atomic_csv(per_case, sm.output[0])
