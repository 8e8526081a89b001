"""Print the environment line that lets nnU-Net find this project's trainers.

    eval "$(mednext-nnunet-env)"      # sets nnUNet_extTrainer for nnUNetv2_train / nnUNetv2_predict
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

__all__ = ["trainer_folders", "ext_trainer_value", "main"]

TRAINER_PACKAGES = ("mednext.nnunet.trainers", "baselines")


def trainer_folders() -> list[str]:
    """The folders holding the trainer modules, MedNeXt's and the baselines', found without importing them."""
    return [str(Path(p).resolve()) for name in TRAINER_PACKAGES for p in find_spec(name).submodule_search_locations]


def ext_trainer_value(existing: str | None = None) -> str:
    """``nnUNet_extTrainer`` with our folders first, keeping any the user already has."""
    folders = trainer_folders()
    extra = [p for p in (existing or "").split(os.pathsep) if p and p not in folders]
    return os.pathsep.join(folders + extra)


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(prog="mednext-nnunet-env", description=__doc__.split("\n\n")[0],
                            epilog='use: eval "$(mednext-nnunet-env)" (sets nnUNet_extTrainer for nnUNetv2_train '
                                   'and nnUNetv2_predict, keeping folders it already holds)').parse_args(argv)
    print(f"export nnUNet_extTrainer={shlex.quote(ext_trainer_value(os.environ.get('nnUNet_extTrainer')))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
