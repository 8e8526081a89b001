"""UpKern: initialise a large-kernel MedNeXt from a trained small-kernel one (Roy et al., Sec. 2.3).

Every weight whose spatial kernel differs between source and target (the depthwise k^3 convs)
is resized by trilinear interpolation (``align_corners=False``) to the target's kernel size;
every other tensor (1x1x1 convs, norms, biases, heads) is copied unchanged. Anything that
cannot be mapped this way is an error naming the key: a silent partial load would make an
UpKern run indistinguishable from training from scratch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UpKernReport", "UpKernError", "upkern", "upkern_tensor"]


class UpKernError(ValueError):
    """The source state dict cannot initialise the target model."""


@dataclass
class UpKernReport:
    """What :func:`upkern` did, key by key."""

    interpolated: list[str] = field(default_factory=list)  # kernels resized trilinearly
    copied: list[str] = field(default_factory=list)  # tensors copied unchanged

    def __str__(self) -> str:
        return f"UpKern: {len(self.interpolated)} kernels interpolated, {len(self.copied)} tensors copied"


def upkern_tensor(weight: torch.Tensor, kernel: tuple[int, int, int]) -> torch.Tensor:
    """Trilinearly resize the spatial kernel of a conv weight ``(O, I, k, k, k)`` to ``kernel``."""
    resized = F.interpolate(weight.float(), size=tuple(kernel), mode="trilinear", align_corners=False)
    return resized.to(weight.dtype)


def upkern(source_state_dict: Mapping[str, torch.Tensor], target_model: nn.Module) -> UpKernReport:
    """Load ``source_state_dict`` (e.g. a trained k3 MedNeXt) into ``target_model`` (e.g. k5).

    Args:
        source_state_dict: parameters and buffers of the trained small-kernel network.
        target_model: the network to initialise, modified in place.

    Returns:
        An :class:`UpKernReport` listing the interpolated and the copied keys.

    Raises:
        UpKernError: a key present in only one of the two, or a tensor whose non-spatial
            shape differs (different variant, channels or classes); the message names the key.
    """
    target = target_model.state_dict()
    missing = sorted(set(target) - set(source_state_dict))
    unexpected = sorted(set(source_state_dict) - set(target))
    if missing or unexpected:
        raise UpKernError(
            "UpKern needs the same architecture apart from kernel size: "
            f"missing in source: {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
            f"unexpected in source: {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"
            + _hint(source_state_dict, target)
        )
    report = UpKernReport()
    new_state = {}
    for key, dst in target.items():
        src = source_state_dict[key].detach().to(device=dst.device)
        if src.shape == dst.shape:
            new_state[key] = src.to(dst.dtype)
            report.copied.append(key)
        elif src.ndim == dst.ndim == 5 and src.shape[:2] == dst.shape[:2]:
            if any(d < k for d, k in zip(dst.shape[2:], src.shape[2:])):
                raise UpKernError(
                    f"UpKern only enlarges kernels: {key!r} is {tuple(src.shape[2:])} in the source and "
                    f"{tuple(dst.shape[2:])} in the target; start the larger-kernel net from the smaller one"
                )
            new_state[key] = upkern_tensor(src, tuple(dst.shape[2:])).to(dst.dtype)
            report.interpolated.append(key)
        else:
            raise UpKernError(
                f"UpKern cannot map {key!r}: source shape {tuple(src.shape)} vs target {tuple(dst.shape)}; "
                "only the spatial kernel may differ (same variant, channels and classes needed)"
            )
    target_model.load_state_dict(new_state, strict=True)
    return report


def _hint(source: Mapping, target: Mapping) -> str:
    """The likely cause of a key mismatch, where it is a known wrapping of a state dict."""
    if "network_weights" in source:
        return ("; this looks like a whole nnU-Net checkpoint: pass its "
                "torch.load(path, weights_only=False)['network_weights']")
    for prefix, wrapper in (("_orig_mod.", "torch.compile"), ("module.", "DataParallel/DistributedDataParallel")):
        if source and all(k.startswith(prefix) for k in source) and not any(k.startswith(prefix) for k in target):
            return (f"; every source key starts with {prefix!r} ({wrapper}'s wrapper): "
                    f"strip it, {{k.removeprefix({prefix!r}): v for k, v in state_dict.items()}}")
    return ""
