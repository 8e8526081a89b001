"""Baseline trainers for nnU-Net v2 (UNETR, SwinUNETR from MONAI; nnU-Net with a budget).

This folder goes on ``nnUNet_extTrainer`` (see ``mednext-nnunet-env``) and holds only trainer modules.
"""
