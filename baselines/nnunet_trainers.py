"""nnU-Net's own trainer with only the training length taken from the environment.

The paper configuration trains nnU-Net with the stock ``nnUNetTrainer`` on nnU-Net's default
plans. ``nnUNetTrainerBudget`` is that trainer, unchanged but for the budget from the
environment (see ``mednext.nnunet.budget``) and the ``run_record.json`` it writes: it is what
runs with any other budget (demos, tests) use.
"""

from mednext.nnunet.budget import BudgetedTrainer


class nnUNetTrainerBudget(BudgetedTrainer):
    pass
