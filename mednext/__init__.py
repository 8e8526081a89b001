"""MedNeXt: a fully 3D ConvNeXt for medical image segmentation (Roy et al., MICCAI 2023).

>>> from mednext import create_mednext
>>> net = create_mednext("B", in_channels=1, num_classes=14, kernel_size=3)
"""

from mednext.blocks import MedNeXtBlock, MedNeXtDownBlock, MedNeXtUpBlock, OutputHead
from mednext.network import MedNeXt
from mednext.scaling import PUBLISHED_COMPLEXITY, VARIANTS, Variant, create_mednext
from mednext.upkern import UpKernError, UpKernReport, upkern

__all__ = [
    "MedNeXt",
    "MedNeXtBlock",
    "MedNeXtDownBlock",
    "MedNeXtUpBlock",
    "OutputHead",
    "PUBLISHED_COMPLEXITY",
    "VARIANTS",
    "Variant",
    "create_mednext",
    "upkern",
    "UpKernError",
    "UpKernReport",
]
__version__ = "0.1.0"
