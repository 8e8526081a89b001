import pytest

import mednext.kernels as K


@pytest.fixture
def triton_calls(monkeypatch):
    """Counts the calls of each Triton op, so that a test knows the kernels ran (no silent fallback)."""
    mod = K._triton_module()
    assert mod is not None, "Triton does not import"
    calls = {}
    for name in ("dwconv3d", "dwconv3d_transpose", "dwconv3d_weight_grad"):
        op = getattr(mod, name)

        def counted(*args, _op=op, _name=name):
            calls[_name] = calls.get(_name, 0) + 1
            return _op(*args)

        monkeypatch.setattr(mod, name, counted)
    return calls
