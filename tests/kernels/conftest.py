import pytest

from mednext.kernels import _triton_module

from .counting import count_triton_calls


@pytest.fixture
def triton_calls():
    """Calls of each Triton op during the test (see counting.py)."""
    with count_triton_calls() as calls:
        yield calls


@pytest.fixture
def band_launches(monkeypatch):
    """Launches of the band kernels during the test, in order: ("band", stride) for the forward or
    input-gradient kernel, ("band_weight_grad", stride) for the weight-gradient kernel."""
    mod = _triton_module()
    launches = []
    band, weight_grad = mod._band, mod._band_weight_grad
    monkeypatch.setattr(mod, "_band", lambda x, w, b, stride, *rest: launches.append(("band", stride))
                        or band(x, w, b, stride, *rest))
    monkeypatch.setattr(mod, "_band_weight_grad", lambda g, a, k, stride, p: launches.append(("band_weight_grad", stride))
                        or weight_grad(g, a, k, stride, p))
    return launches
