"""nnU-Net v2 integration: MedNeXt plans, the training budget, the trainer bases, nnU-Net's complexity.

The trainer *classes* that ``nnUNetv2_train -tr NAME`` finds live in
``mednext/nnunet/trainers/`` (MedNeXt) and ``baselines/`` (UNETR, SwinUNETR, nnU-Net with a
budget); point nnU-Net at both with ``eval "$(mednext-nnunet-env)"``.
"""
