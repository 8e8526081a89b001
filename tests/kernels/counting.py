"""Count the calls of each Triton op, so that a test knows the kernels ran (no silent fallback)."""

import contextlib

import pytest

import mednext.kernels as K

OPS = ("dwconv3d", "dwconv3d_transpose", "dwconv3d_weight_grad")


@contextlib.contextmanager
def count_triton_calls():
    """Yields a dict op name -> number of calls, filled while the context is open."""
    mod = K._triton_module()
    assert mod is not None, "Triton does not import"
    calls = {}
    with pytest.MonkeyPatch.context() as mp:
        for name in OPS:
            op = getattr(mod, name)

            def counted(*args, _op=op, _name=name):
                calls[_name] = calls.get(_name, 0) + 1
                return _op(*args)

            mp.setattr(mod, name, counted)
        yield calls
