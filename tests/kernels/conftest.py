import pytest

from .counting import count_triton_calls


@pytest.fixture
def triton_calls():
    """Calls of each Triton op during the test (see counting.py)."""
    with count_triton_calls() as calls:
        yield calls
