"""The trainer's divergence check: a NaN or infinite validation loss stops the run, naming it and the fix."""

import math

import pytest

from mednext.nnunet.budget import DivergedError, check_diverged


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_validation_loss_stops_the_run(bad):
    log = {"train_losses": [0.9, math.nan], "val_losses": [0.5, bad]}
    with pytest.raises(DivergedError, match=r"diverged in epoch 1 of /runs/x.*Lower the learning rate"):
        check_diverged(log, "/runs/x")


def test_finite_validation_loss_trains_on():
    # a NaN training loss alone (one step that AMP's grad scaler skipped) leaves the weights finite
    check_diverged({"train_losses": [math.nan], "val_losses": [0.4]}, "/runs/x")
    check_diverged({}, "/runs/x")  # before the first validation
