"""List the out-of-fold predictions of one model (rule oof_predictions); stop on any missing case, and on a run
trained on other data than the preprocessed folder holds now."""

import json
from pathlib import Path

import pandas as pd

from mednext.nnunet.inputs import data_changed_since, dataset_inputs

from rule_log import rule_log


class TrainedOnOtherData(Exception):
    pass


with rule_log(snakemake.log[0], expected=(FileNotFoundError, TrainedOnOtherData)):  # noqa: F821
    splits = json.loads(Path(snakemake.input.splits).read_text())  # noqa: F821
    file_ending = json.loads(Path(snakemake.input.dataset_json).read_text())["file_ending"]  # noqa: F821
    preprocessed = Path(snakemake.input.splits).parent  # noqa: F821
    current = dataset_inputs(str(preprocessed))
    for folder in snakemake.input.validation:  # noqa: F821
        record = Path(folder).parent / "run_record.json"
        changed = data_changed_since(json.loads(record.read_text()), current) if record.is_file() else []
        if changed:
            raise TrainedOnOtherData(
                f"{Path(folder).parent} trained on other data than {preprocessed} holds now ({', '.join(changed)} "
                "changed since; say, a dataset re-released under the same file name): train the dataset's runs "
                f"again, `snakemake --forcerun {preprocessed / 'data_identity.json'}` with your usual target and options")
    rows = []
    for fold, folder in zip(snakemake.params.folds, snakemake.input.validation):  # noqa: F821
        for case in splits[fold]["val"]:
            path = Path(folder) / f"{case}{file_ending}"
            if not path.is_file():
                raise FileNotFoundError(
                    f"missing out-of-fold prediction {path} (nnU-Net writes these in its final validation): run "
                    f"that training job again, `snakemake --forcerun {Path(folder).parent / 'checkpoint_final.pth'}` "
                    "with your usual target and options (its finished run resumes and only validates again)")
            rows.append({"case": case, "fold": fold, "path": str(path)})
    pd.DataFrame(rows).to_csv(snakemake.output[0], sep="\t", index=False)  # noqa: F821
