"""nnU-Net's own trainer with only the training length taken from the environment.

The paper configuration trains nnU-Net with the stock ``nnUNetTrainer`` on nnU-Net's default
plans. ``nnUNetTrainerBudget`` is that trainer, unchanged but for ``MEDNEXT_NUM_EPOCHS`` /
``MEDNEXT_ITERS_PER_EPOCH`` / ``MEDNEXT_VAL_ITERS`` / ``MEDNEXT_SAVE_EVERY`` (see
``mednext.nnunet.budget``) and the ``run_record.json`` it writes: it is what demos and tests use.
"""

from mednext.nnunet.budget import BudgetedTrainer


class nnUNetTrainerBudget(BudgetedTrainer):
    pass
