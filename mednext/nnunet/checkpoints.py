"""Load nnU-Net checkpoints without running code hidden in them.

A ``.pth`` file is a pickle: loaded with ``weights_only=False`` it may call anything. nnU-Net's
checkpoints hold tensors, plain containers and a few numpy values (the logged Dice scores,
``_best_ema``); :func:`load_checkpoint` unpickles exactly those, through PyTorch's restricted
unpickler with an explicit allow-list, and refuses a file with any other object in it.
"""

from __future__ import annotations

from os import PathLike

import numpy as np
import torch

__all__ = ["ALLOWED_GLOBALS", "UnsafeCheckpointError", "load_checkpoint"]

# What nnU-Net 2.x puts in a checkpoint besides tensors, dicts, lists, tuples, strings and numbers:
# numpy float scalars (logged Dice, _best_ema), pickled by numpy 2 or, under its old name, numpy 1.
ALLOWED_GLOBALS = [
    np._core.multiarray.scalar,
    (np._core.multiarray.scalar, "numpy.core.multiarray.scalar"),
    np.dtype,
    np.dtypes.Float32DType,
    np.dtypes.Float64DType,
]


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds an object outside the allow-list (it could run code when unpickled)."""


def load_checkpoint(path: str | PathLike, map_location: str | torch.device = "cpu") -> dict:
    """``torch.load(path, weights_only=True)`` with the types nnU-Net stores allowed; anything else is refused."""
    try:
        with torch.serialization.safe_globals(ALLOWED_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except torch.serialization.pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f"{path}: refused to load, it holds objects outside the nnU-Net checkpoint allow-list "
            f"(mednext.nnunet.checkpoints.ALLOWED_GLOBALS); only load checkpoints you trust:\n{err}"
        ) from None
