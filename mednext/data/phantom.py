"""A synthetic 3D CT-like phantom dataset in nnU-Net raw format (deterministic for a seed).

Each case is a body-shaped ellipsoid in air holding four labelled "organs" whose shape, size,
position, orientation and contrast vary from case to case:

=====  ===========  ==========================================================================
label  name         what it looks like
=====  ===========  ==========================================================================
1      liver        large lobed blob, right side, moderately bright
2      kidneys      two ellipsoids left and right at the back, bright
3      spleen       mid-sized ellipsoid, left side, brighter than the liver (enhancing)
4      lesion       large sphere inside the liver, much darker than it (in every case, or in none:
                    ``lesion=False``, which the demo uses to learn within its minutes)
=====  ===========  ==========================================================================

The image has partial-volume blur, a smooth multiplicative bias field and noise, and the
spacing is anisotropic (thicker slices along the last axis) with per-case jitter. Sizes are
fractions of the volume, so the same anatomy appears at any grid size. The organs are large
enough to be learnt in a few dozen iterations (the demo's point is to show learning quickly),
and each class's voxels overlap its neighbours' in intensity, so a model needs shape and
context, not a threshold. Every case has every label, so no metric depends on an empty-mask rule. Everything
made from this dataset is synthetic and must be labelled so.

    python -m mednext.data.phantom OUT_DIR --cases 12 --seed 0
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

__all__ = ["LABELS", "labels", "make_case", "write_phantom_dataset", "main"]

LABELS = {"background": 0, "liver": 1, "kidneys": 2, "spleen": 3, "lesion": 4}


def labels(lesion: bool = True) -> dict[str, int]:
    """The dataset's labels: :data:`LABELS`, without ``lesion`` for a phantom made without it."""
    return {k: v for k, v in LABELS.items() if lesion or k != "lesion"}


def _ellipsoid(grid: np.ndarray, centre, radii, rotation: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of an ellipsoid on ``grid`` (3, X, Y, Z) in mm."""
    d = grid - np.asarray(centre, dtype=float)[:, None, None, None]
    if rotation is not None:
        d = np.einsum("ij,jxyz->ixyz", rotation, d)
    return sum((d[i] / radii[i]) ** 2 for i in range(3)) <= 1.0


def _rotation(rng: np.random.Generator, max_angle: float) -> np.ndarray:
    a, b, c = rng.uniform(-max_angle, max_angle, 3)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def make_case(rng: np.random.Generator, shape: Sequence[int] = (64, 64, 40),
              spacing: Sequence[float] = (1.0, 1.0, 1.5), lesion: bool = True,
              ) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """One (image, label, spacing) triple; image in HU-like units, label uint8 with :data:`LABELS`
    (without the lesion: no label 4, and the liver is whole)."""
    spacing = tuple(float(s) * rng.uniform(0.95, 1.05) for s in spacing)
    axes = [np.arange(n) * s for n, s in zip(shape, spacing)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"))
    extent = np.array([n * s for n, s in zip(shape, spacing)])
    centre = extent / 2 + rng.normal(0, 0.02, 3) * extent

    label = np.zeros(shape, dtype=np.uint8)
    body = _ellipsoid(grid, centre, extent * rng.uniform([0.43, 0.38, 0.45], [0.48, 0.44, 0.5]))

    # liver: union of two overlapping ellipsoids (a lobed shape), right side of the body
    liver_c = centre + extent * np.array([-0.16, rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05)])
    liver = _ellipsoid(grid, liver_c, extent * rng.uniform([0.22, 0.26, 0.26], [0.26, 0.31, 0.32]), _rotation(rng, 0.4))
    liver |= _ellipsoid(grid, liver_c + extent * np.array([0.08, rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1)]),
                        extent * rng.uniform(0.12, 0.16, 3))
    label[liver & body] = 1
    for side in (-1, 1):  # kidneys, at the back
        c = centre + extent * np.array([side * 0.21, 0.2 + rng.uniform(-0.03, 0.03), rng.uniform(-0.06, 0.06)])
        label[_ellipsoid(grid, c, extent * rng.uniform([0.13, 0.14, 0.19], [0.155, 0.165, 0.23]),
                         _rotation(rng, 0.3)) & body & (label == 0)] = 2
    spleen_c = centre + extent * np.array([0.22, rng.uniform(-0.12, -0.04), rng.uniform(-0.06, 0.06)])
    label[_ellipsoid(grid, spleen_c, extent * rng.uniform([0.155, 0.165, 0.2], [0.185, 0.195, 0.24]),
                     _rotation(rng, 0.6)) & body & (label == 0)] = 3
    # lesion: a sphere well inside the liver (in every case, so that no metric meets an empty mask)
    inner = np.argwhere(ndimage.binary_erosion(label == 1, iterations=3))
    candidates = inner if len(inner) else np.argwhere(label == 1)
    c = candidates[rng.integers(len(candidates))] * np.array(spacing)
    lesion_mask = _ellipsoid(grid, c, [rng.uniform(0.14, 0.18) * extent.min()] * 3) & (label == 1)
    if lesion:  # drawn either way, so that a seed gives the same anatomy with and without it
        label[lesion_mask] = 4

    # intensities (noise sd 10, blur, bias): each class's voxels overlap its neighbours' in intensity; the lesion is
    # darkest, then soft tissue, liver, the (enhancing) spleen and the kidneys
    organ_hu = {1: rng.uniform(52, 66), 2: rng.uniform(150, 190), 3: rng.uniform(84, 100), 4: rng.uniform(-8, 8)}
    image = np.where(body, rng.uniform(18, 28), -1000.0)
    for value, hu in organ_hu.items():
        image[label == value] = hu
    image = ndimage.gaussian_filter(image, sigma=0.6 / np.asarray(spacing))  # partial volume
    bias = 1 + sum(rng.uniform(-0.08, 0.08) * (grid[i] / extent[i] - 0.5) for i in range(3))  # smooth bias field
    image = image * bias + rng.normal(0, 10, shape)
    image = np.clip(image, -1024, 3000).astype(np.float32)
    return image, label, spacing


def _save(array: np.ndarray, spacing: Sequence[float], path: Path) -> None:
    img = nib.Nifti1Image(array, np.diag([*spacing, 1.0]))
    img.header.set_zooms(spacing)
    nib.save(img, str(path))


def write_phantom_dataset(out_dir: str | Path, cases: int = 12, seed: int = 0, shape: Sequence[int] = (64, 64, 40),
                          spacing: Sequence[float] = (1.0, 1.0, 1.5), lesion: bool = True) -> Path:
    """Write ``cases`` phantom cases to ``out_dir`` (``imagesTr/``, ``labelsTr/``, ``dataset.json``).

    The cases of an earlier phantom there (``phantom_*``) are removed first, ``dataset.json`` first
    of all (it is written last: a folder with it is complete); a folder holding anything else (another
    dataset.json, other files, linked folders) is refused."""
    out = Path(out_dir)
    meta = out / "dataset.json"
    folders = [out / "imagesTr", out / "labelsTr"]
    foreign = (meta.is_file() and not json.loads(meta.read_text()).get("synthetic")) or any(
        f.is_symlink() or any(not p.name.startswith("phantom_") for p in f.glob("*")) for f in folders if f.exists())
    if foreign:
        raise FileExistsError(f"{out} holds a dataset that is not a phantom (or links to one): move it away (or "
                              "delete it), or write the phantom elsewhere (in the workflow: another id or name)")
    meta.unlink(missing_ok=True)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("phantom_*.nii.gz"):
            stale.unlink()
    rng = np.random.default_rng(seed)
    for i in range(cases):
        image, label, sp = make_case(rng, shape, spacing, lesion)
        case = f"phantom_{i:03d}"
        _save(image, sp, out / "imagesTr" / f"{case}_0000.nii.gz")
        _save(label, sp, out / "labelsTr" / f"{case}.nii.gz")
    dataset_json = {
        "name": "Phantom",
        "description": f"Synthetic CT-like phantom (mednext.data.phantom, seed {seed}). SYNTHETIC DATA.",
        "channel_names": {"0": "CT"},
        "labels": labels(lesion),
        "numTraining": cases,
        "file_ending": ".nii.gz",
        "synthetic": True,
    }
    meta.write_text(json.dumps(dataset_json, indent=2))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write the synthetic phantom dataset in nnU-Net raw format.")
    p.add_argument("out_dir")
    p.add_argument("--cases", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shape", type=int, nargs=3, default=(64, 64, 40))
    p.add_argument("--spacing", type=float, nargs=3, default=(1.0, 1.0, 1.5))
    p.add_argument("--no-lesion", dest="lesion", action="store_false", help="three organs, no lesion class")
    args = p.parse_args(argv)
    write_phantom_dataset(args.out_dir, args.cases, args.seed, args.shape, args.spacing, args.lesion)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
