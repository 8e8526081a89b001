"""A smoke test of benchmarks/check_compile.py on the CPU, where ``auto`` runs PyTorch's convs: the
trainers' step (deep supervision, all five outputs) compiles through AOTAutograd without a graph
break and gives the eager loss and gradients, and the compiled network, switched to eval mode and
deep supervision off, gives the eager output on one case (nnU-Net's final validation). Inductor
with our Triton kernels needs a GPU (`bash benchmarks/run_gpu.sh compile`); the kernels' part of
the compile fixes is tested in tests/kernels/test_dwconv.py."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "check_compile.py"


@pytest.mark.parametrize("checkpointing", ["none", "pointwise"])
def test_compiled_trainer_step_matches_eager_without_graph_breaks(tmp_path, checkpointing):
    spec = importlib.util.spec_from_file_location("check_compile", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "compile.json"
    assert module.main(["--device", "cpu", "--backend", "aot_eager", "--variant", "S", "--kernel", "3", "--patch", "32",
                        "--batch", "2", "--dtype", "fp32", "--iters", "1", "--impl", "auto",
                        "--checkpointing", checkpointing, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["backend_runs"] == "torch" and result["config"]["checkpointing"] == checkpointing
    phases = {p["phase"]: p for p in result["phases"]}
    assert list(phases) == ["eager", "compiled_first_step", "compiled", "compiled_inference_batch1"]
    first = phases["compiled_first_step"]
    assert first["graph_breaks"] == 0, first["graph_break_reasons"]
    assert first["loss_rel"] < 1e-6 and first["grad_rel"] < 1e-5
    assert phases["compiled_inference_batch1"]["output_rel"] < 1e-5
    assert phases["compiled_inference_batch1"]["graph_breaks"] == 0
