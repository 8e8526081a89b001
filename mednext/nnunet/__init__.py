"""nnU-Net v2 integration: the model registry and run spec (a run's identity), MedNeXt plans,
the budgeted trainer base, run records, safe checkpoint loading and nnU-Net's complexity.

The trainer *classes* that ``nnUNetv2_train -tr NAME`` finds live in
``mednext/nnunet/trainers/`` (MedNeXt) and ``baselines/`` (UNETR, SwinUNETR, nnU-Net with a
budget); point nnU-Net at both with ``eval "$(mednext-nnunet-env)"``.
"""
