import os

import pytest
import torch

# Without a GPU the Triton kernels run under Triton's interpreter (mednext.kernels imports them
# lazily, so this must be set before the first use, not before `import mednext`).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# Two cores: keep intra-op threads from oversubscribing; nnU-Net workers stay low too.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
os.environ.setdefault("nnUNet_def_n_proc", "1")
os.environ.setdefault("nnUNet_n_proc_DA", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
