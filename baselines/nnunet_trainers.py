"""nnU-Net's own trainer, run the way every run here is run.

The nnU-Net baseline trains with ``nnUNetTrainerBudget`` under every budget, the paper's too, on
nnU-Net's default plans. Its recipe is the stock ``nnUNetTrainer``'s, unchanged; what it adds is
``mednext.nnunet.budget``'s: the budget from the environment, ``run_record.json``, atomic
checkpoints and checkpoint-on-notice, so that long runs survive SLURM walltime limits.
"""

from mednext.nnunet.budget import BudgetedTrainer


class nnUNetTrainerBudget(BudgetedTrainer):
    pass
