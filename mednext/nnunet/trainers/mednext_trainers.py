"""The MedNeXt trainers that ``nnUNetv2_train -tr NAME`` finds (folder on ``nnUNet_extTrainer``).

Each class changes one thing and is named for it. Class names become result folder names:
never rename one.
"""

from mednext.nnunet.trainer import InitFromK3, nnUNetTrainerMedNeXt

# Compound scaling x kernel size: the paper recipe (AdamW 1e-3, poly, deep supervision).


class nnUNetTrainerMedNeXt_S_k3(nnUNetTrainerMedNeXt):
    variant, kernel_size = "S", 3


class nnUNetTrainerMedNeXt_S_k5(nnUNetTrainerMedNeXt):
    variant, kernel_size = "S", 5


class nnUNetTrainerMedNeXt_B_k3(nnUNetTrainerMedNeXt):
    variant, kernel_size = "B", 3


class nnUNetTrainerMedNeXt_B_k5(nnUNetTrainerMedNeXt):
    variant, kernel_size = "B", 5


class nnUNetTrainerMedNeXt_M_k3(nnUNetTrainerMedNeXt):
    variant, kernel_size = "M", 3


class nnUNetTrainerMedNeXt_M_k5(nnUNetTrainerMedNeXt):
    variant, kernel_size = "M", 5


class nnUNetTrainerMedNeXt_L_k3(nnUNetTrainerMedNeXt):
    variant, kernel_size = "L", 3


class nnUNetTrainerMedNeXt_L_k5(nnUNetTrainerMedNeXt):
    variant, kernel_size = "L", 5


# UpKern: k5 initialised from the trained k3 of the same fold.


class nnUNetTrainerMedNeXt_S_k5_UpKern(InitFromK3, nnUNetTrainerMedNeXt_S_k5):
    pass


class nnUNetTrainerMedNeXt_B_k5_UpKern(InitFromK3, nnUNetTrainerMedNeXt_B_k5):
    pass


class nnUNetTrainerMedNeXt_M_k5_UpKern(InitFromK3, nnUNetTrainerMedNeXt_M_k5):
    pass


class nnUNetTrainerMedNeXt_L_k5_UpKern(InitFromK3, nnUNetTrainerMedNeXt_L_k5):
    pass


# Ablations.


class nnUNetTrainerMedNeXt_B_k3_NoResResample(nnUNetTrainerMedNeXt_B_k3):
    """Plain up/down blocks, without the residual 1x1x1 resampling paths."""

    residual_resampling = False


class nnUNetTrainerMedNeXt_B_k3_Twice(InitFromK3, nnUNetTrainerMedNeXt_B_k3):
    """k3 trained again from the trained k3 of the same fold, same budget: the control for UpKern's extra training."""
