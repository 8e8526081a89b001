"""What a run trained on: digests of its preprocessed dataset's files and of the checkpoint it started from.

A run's folder names its settings (:mod:`mednext.nnunet.runspec`), not its data: the same folder is
trained again when the data behind it changed (another phantom, another release, a dataset's
``cases``), which the workflow sees as changed inputs of the training job. Every checkpoint records
:func:`run_inputs` (``init_args[INPUTS_KEY]``); a run is continued (``--c``) only from a checkpoint
trained on the same inputs, otherwise its weights would carry on under the new data unnoticed:

* :class:`mednext.nnunet.budget.BudgetedTrainer` refuses such a checkpoint (``nnUNetv2_train --c``);
* the workflow asks first (rule ``train``)::

      python -m mednext.nnunet.inputs CHECKPOINT PLANS_JSON [SOURCE_CHECKPOINT]

  exit 0: continue from it; exit 3: it trained on other inputs (printed), train the run afresh.

A checkpoint from before this record (none in it) is taken as trained on the current inputs.
"""

from __future__ import annotations

import hashlib
import sys
from os.path import basename, dirname, isfile, join

import torch

from mednext.data.download import sha256_of
from mednext.nnunet.checkpoints import load_checkpoint

__all__ = ["INPUTS_KEY", "STALE_EXIT", "changed_inputs", "data_changed_since", "dataset_inputs", "run_inputs", "weights_digest", "main"]

INPUTS_KEY = "mednext_inputs"  # in a checkpoint's init_args
STALE_EXIT = 3
# Beside the plans in nnUNet_preprocessed/DatasetXXX_Name: the data as nnU-Net saw it, and the folds
DATASET_FILES = ("dataset.json", "dataset_fingerprint.json", "splits_final.json")


def weights_digest(checkpoint: str) -> str:
    """sha256 of a checkpoint's network weights (names and tensors in order): what a run started from it
    took. Not of the file, which also holds logs and optimizer state and may be written again unchanged."""
    digest = hashlib.sha256()
    for name, tensor in load_checkpoint(checkpoint)["network_weights"].items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def run_inputs(plans_json: str, source_checkpoint: str | None = None) -> dict[str, str]:
    """File name -> sha256 of the plans and the dataset files beside them (those that exist), and
    ``"source"``: the weights of the checkpoint the run starts from (UpKern, trained twice), if any."""
    folder = dirname(plans_json)
    inputs = {basename(plans_json): sha256_of(plans_json)} if isfile(plans_json) else {}
    inputs.update(dataset_inputs(folder))
    if source_checkpoint and isfile(source_checkpoint):
        inputs["source"] = weights_digest(source_checkpoint)
    return inputs


def changed_inputs(recorded: dict | None, current: dict[str, str]) -> list[str]:
    """The inputs that differ from what a checkpoint recorded: of those both name (none where it recorded
    nothing; a file that is gone cannot be judged)."""
    return sorted(k for k in (recorded or {}) if k in current and recorded[k] != current[k])


def dataset_inputs(preprocessed_folder: str) -> dict[str, str]:
    """File name -> sha256 of the dataset files (:data:`DATASET_FILES`) in a preprocessed dataset folder."""
    return {name: sha256_of(join(preprocessed_folder, name)) for name in DATASET_FILES
            if isfile(join(preprocessed_folder, name))}


def data_changed_since(record: dict, current: dict[str, str]) -> list[str]:
    """The dataset files that differ between what a finished run's last attempt (its ``run_record.json``) trained on
    and ``current`` (:func:`dataset_inputs`; not the plans, which a new configuration rewrites): data changed behind
    a run whose job did not run again."""
    attempts = record.get("attempts") or [{}]
    return changed_inputs(attempts[-1].get("inputs"), current)


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 3):
        print("usage: python -m mednext.nnunet.inputs CHECKPOINT PLANS_JSON [SOURCE_CHECKPOINT]", file=sys.stderr)
        return 2
    recorded = load_checkpoint(args[0])["init_args"].get(INPUTS_KEY)
    changed = changed_inputs(recorded, run_inputs(args[1], args[2] if len(args) == 3 else None))
    if changed:
        print(f"{args[0]} was trained on other inputs ({', '.join(changed)} changed since)")
        return STALE_EXIT
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
