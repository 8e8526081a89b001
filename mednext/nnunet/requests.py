"""What a training job asks the cluster for: its runtime and the GPU memory its model needs.

The one place a run's request is computed (``workflow/rules/train.smk`` asks it for every job).
The runtime is the run's budget at its model's seconds per iteration (config ``train_requests``,
per model class, overridable per dataset), times ``cluster.safety``, plus ``cluster.overhead_min``,
and never more than ``cluster.max_runtime_min`` (which a model without an entry asks for). A
``resources.train.runtime`` in the config, if set, is asked for instead by every training job
(still within the cap). A run that needs more continues in the same
SLURM job, requeued (:mod:`mednext.nnunet.notice`), so an estimate that is too low costs a
requeue, not the run. Resources change no result: they are never part of a run or a rule's params.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mednext.nnunet.runspec import RunSpec

__all__ = ["TrainRequest", "model_class", "train_request"]


@dataclass(frozen=True)
class TrainRequest:
    runtime_min: int  # what the job asks for: min(estimate, cluster cap)
    estimate_min: int | None  # the whole run (None: no s_per_it for its model), safety and overhead included (several jobs if above the cap)
    gpu_mem_gb: int | None  # GB the model needs on the card (config train_requests, rounded up); None: unknown


def model_class(run: RunSpec) -> str:
    """The key of ``train_requests``: the network a run trains (UpKern, Twice and ablations share their variant's)."""
    spec = run.model
    return f"mednext_{spec.variant}_k{spec.kernel_size}" if spec.family == "MedNeXt" else spec.key


def train_request(run: RunSpec, config: Mapping) -> TrainRequest:
    """The request of ``run`` under the (validated) workflow ``config``."""
    key, cluster = model_class(run), config["cluster"]
    table = {**config["train_requests"].get(key, {}),
             **config["datasets"][run.dataset].get("train_requests", {}).get(key, {})}
    memory = math.ceil(table["gpu_mem_gb"]) if "gpu_mem_gb" in table else None
    estimate = None
    if "s_per_it" in table:
        b = run.budget
        seconds = b.epochs * (b.iterations + b.val_iterations) * table["s_per_it"]  # validation counted as training
        estimate = math.ceil(seconds / 60 * cluster["safety"] + cluster["overhead_min"])
    fixed = config.get("resources", {}).get("train", {}).get("runtime")
    asked = fixed or estimate or cluster["max_runtime_min"]
    return TrainRequest(min(asked, cluster["max_runtime_min"]), estimate, memory)
