"""A run's identity: everything about one training run, from (dataset, model key, fold, config).

A run is one ``nnUNetv2_train`` job. Whatever makes its result what it is (trainer, plans,
configuration, fold, budget, learning rate) is part of its folder, relative to ``nnUNet_results``::

    [<settings>/]DatasetXXX_Name/<trainer>__<plans>__<configuration>/fold_N

``<settings>`` is absent for the paper's budget at the recipe's learning rate and names what
differs otherwise (``e2_it3_val1``, ``lr0.0001``, ``e2_it3_val1_lr0.0001``), in the spirit of
nnU-Net's ``nnUNetTrainer_5epochs``: another budget or learning rate trains a fresh run beside
the old one. What changes no result (paths, worker counts, compile, checkpoint interval) is not
part of a run.

The settings reach a trainer as environment variables (:meth:`RunSpec.environment`):
``MEDNEXT_EPOCHS``, ``MEDNEXT_ITERATIONS``, ``MEDNEXT_VAL_ITERATIONS`` and ``MEDNEXT_LR``; unset,
a trainer runs the paper's budget at its recipe's learning rate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from mednext.nnunet.registry import ModelSpec, model_spec

__all__ = ["Budget", "CHECKPOINTING_VARIABLE", "LR_VARIABLE", "RunSpec", "dataset_folder", "model_budget",
           "positive_from_env", "run_spec"]

LR_VARIABLE = "MEDNEXT_LR"
# Not part of a run: what backward recomputes (mednext.network.CHECKPOINTING) changes memory and time only.
CHECKPOINTING_VARIABLE = "MEDNEXT_CHECKPOINTING"


def positive_from_env(name: str, default: int | float, kind: type = int) -> int | float:
    """``kind(os.environ[name])`` if the variable is set, else ``default``; anything not > 0 is an error."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if not value > 0:
        what = "integer" if kind is int else "number"
        raise ValueError(f"environment variable {name}={raw!r} must be a positive {what} (unset it for {default})")
    return value


@dataclass(frozen=True)
class Budget:
    """How long a run trains. The defaults are the paper's, and the only place they are written."""

    epochs: int = 1000
    iterations: int = 250  # training iterations per epoch
    val_iterations: int = 50  # validation iterations per epoch

    @staticmethod
    def variable(name: str) -> str:
        return f"MEDNEXT_{name.upper()}"

    @classmethod
    def from_env(cls) -> Budget:
        paper = cls()
        return cls(**{f.name: positive_from_env(cls.variable(f.name), getattr(paper, f.name)) for f in fields(cls)})

    def environment(self) -> dict[str, str]:
        return {self.variable(k): str(v) for k, v in asdict(self).items()}

    @property
    def tag(self) -> str:
        return f"e{self.epochs}_it{self.iterations}_val{self.val_iterations}"


@dataclass(frozen=True)
class RunSpec:
    dataset: str  # config key
    dataset_id: int
    dataset_folder: str  # DatasetXXX_Name
    model: ModelSpec
    fold: int
    budget: Budget
    lr: float | None  # None: the trainer's recipe
    source: RunSpec | None  # the run whose checkpoint this one starts from (UpKern, trained twice)

    @property
    def trainer(self) -> str:
        return self.model.trainer

    @property
    def plans(self) -> str:
        return self.model.plans

    @property
    def configuration(self) -> str:
        return self.model.configuration

    @property
    def settings(self) -> str:
        """The folder naming a non-paper budget and/or learning rate ("" for the paper's)."""
        parts = ([] if self.budget == Budget() else [self.budget.tag]) + ([] if self.lr is None else [f"lr{self.lr:g}"])
        return "_".join(parts)

    @property
    def folder(self) -> str:
        """The fold folder, relative to ``nnUNet_results``."""
        run = f"{self.dataset_folder}/{self.trainer}__{self.plans}__{self.configuration}/fold_{self.fold}"
        return f"{self.settings}/{run}" if self.settings else run

    def environment(self) -> dict[str, str]:
        """The variables that give the trainer this run's budget and learning rate."""
        return {**self.budget.environment(), **({LR_VARIABLE: f"{self.lr:g}"} if self.lr is not None else {})}


def dataset_folder(dataset: str, config: Mapping) -> str:
    cfg = config["datasets"][dataset]
    return f"Dataset{cfg['id']:03d}_{cfg['name']}"


def run_spec(dataset: str, model: str, fold: int, config: Mapping) -> RunSpec:
    """The run of ``model`` on fold ``fold`` of ``dataset`` under the (validated) workflow ``config``."""
    cfg = config["datasets"][dataset]
    budget = model_budget(cfg, model)
    spec = model_spec(model, cfg["patch"], cfg["patch_swinunetr"])
    lr = cfg.get("lr_k5") if spec.family == "MedNeXt" and spec.kernel_size == 5 else None
    source = run_spec(dataset, spec.depends_on, fold, config) if spec.depends_on else None
    if source and source.budget != budget:
        raise ValueError(f"datasets.{dataset}: {model} starts from {spec.depends_on} and must train with its budget "
                         f"({source.budget}), not {budget}: give both the same model_budgets entry")
    return RunSpec(dataset, cfg["id"], dataset_folder(dataset, config), spec, int(fold), budget, lr, source)


def model_budget(dataset_cfg: Mapping, model: str) -> Budget:
    """A model's budget on a dataset: the paper's, overridden by the dataset's ``budget``, then by its
    ``model_budgets[model]`` (a demo sizes each model's budget by its iteration time)."""
    return Budget(**{**dataset_cfg.get("budget", {}), **dataset_cfg.get("model_budgets", {}).get(model, {})})
