"""Checkpoints are unpickled with an allow-list: nnU-Net's contents load, code hidden in a file never runs."""

import os

import numpy as np
import pytest
import torch

from mednext.nnunet.checkpoints import UnsafeCheckpointError, load_checkpoint


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _nnunet_like(network_weights):
    """What nnU-Net's save_checkpoint writes (numpy scalars in the log and _best_ema)."""
    return {"network_weights": network_weights, "optimizer_state": {"state": {}, "param_groups": [{"lr": 1e-3}]},
            "grad_scaler_state": None, "_best_ema": np.float32(0.5), "current_epoch": 2, "trainer_name": "T",
            "logging": {"mean_fg_dice": [np.float64(0.25), np.float32(0.5)], "lrs": [1e-3, 5e-4]},
            "init_args": {"plans": {"plans_name": "p"}, "configuration": "3d_fullres", "fold": 0,
                          "device": torch.device("cpu"), "mednext_settings": {"budget": {"epochs": 2}}},
            "inference_allowed_mirroring_axes": (0, 1, 2)}


def test_nnunet_checkpoint_contents_load(tmp_path):
    weights = {"conv.weight": torch.randn(2, 1, 3, 3, 3)}
    torch.save(_nnunet_like(weights), tmp_path / "checkpoint_final.pth")
    loaded = load_checkpoint(tmp_path / "checkpoint_final.pth")
    assert torch.equal(loaded["network_weights"]["conv.weight"], weights["conv.weight"])
    assert loaded["_best_ema"] == np.float32(0.5) and loaded["logging"]["mean_fg_dice"][0] == 0.25


def test_code_in_a_checkpoint_never_runs(tmp_path):
    marker, path = tmp_path / "payload_ran", tmp_path / "checkpoint_final.pth"
    checkpoint = _nnunet_like({"conv.weight": torch.zeros(1)})
    checkpoint["logging"]["extra"] = _Payload(marker)
    torch.save(checkpoint, path)
    with pytest.raises(UnsafeCheckpointError, match=f"{path}: refused"):
        load_checkpoint(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is real: an unrestricted load runs it
    assert marker.exists()
