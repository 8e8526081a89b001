"""The network library stands on its own: importing it pulls in no harness, workflow or baseline code."""

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mednext"
FORBIDDEN = ("nnunetv2", "snakemake", "baselines")


def test_network_library_imports_no_harness():
    modules = sorted(f"mednext.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    if (PACKAGE / "kernels").is_dir():
        modules.append("mednext.kernels")
    code = ("import sys, importlib, mednext\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted({{n.split('.')[0] for n in sys.modules}} & {set(FORBIDDEN)!r}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"{modules} import {proc.stdout.strip()}"
