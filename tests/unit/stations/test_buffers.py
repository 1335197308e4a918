"""Station 5's Tensor side: NumPy reaches a Tensor through __array__, not an array interface."""

from __future__ import annotations

import re

import pytest

from lab.run import stations
from lab.run.observations import Observation, Observations, load_checks, run_check

BUFFERS = stations.find("5")
CHECK = "check_numpy_reaches_a_tensor_through_array"


def tensor_buffer(**changed: dict) -> Observations:
    """What tensor_buffer.py measures in torch 2.6.0, with some fields changed."""
    values = {
        "numpy_ways_in": {
            "buffer (memoryview)": False,
            "__array_struct__": False,
            "__array_interface__": False,
            "__array__": True,
        },
        "asarray": {
            "Tensor.__array__ calls": 1,
            "at the Tensor's address": True,
            "base": "torch.Tensor",
        },
    }
    for name, fields in changed.items():
        values[name] = {**values[name], **fields}
    return Observations([Observation("tensor_buffer", "cuda", k, v) for k, v in values.items()])


def run(obs: Observations):
    check = next(c for c in load_checks(BUFFERS.checks_file) if c.__name__ == CHECK)
    return run_check(check, obs)


def test_asarray_through_array_passes() -> None:
    result = run(tensor_buffer())
    assert result.status == "pass", result.detail
    assert "__array_interface__ no, __array__ yes;" in result.detail


@pytest.mark.parametrize(
    "changed",
    [
        {"numpy_ways_in": {"__array_interface__": True}},  # what the station used to say
        {"numpy_ways_in": {"buffer (memoryview)": True}},
        {"asarray": {"Tensor.__array__ calls": 0}},  # NumPy found another way in
        {"asarray": {"at the Tensor's address": False}},  # a copy, not shared
        {"asarray": {"base": "numpy.ndarray"}},
    ],
)
def test_any_other_way_in_or_a_copy_fails(changed) -> None:
    result = run(tensor_buffer(**changed))
    assert result.status == "fail", result.detail


def test_not_run_where_the_torch_image_is_missing_is_a_skip() -> None:
    obs = Observations(variants_run={"stock"}, planned={"tensor_buffer": ("cuda",)})
    assert run(obs).status == "skip"


def test_no_sentence_says_a_tensor_shares_through_the_array_interface() -> None:
    """torch 2.6's Tensor has no __array_interface__: from_numpy and .numpy() use NumPy's
    C API, np.asarray goes through Tensor.__array__."""
    claim = re.compile(r"through\s+the\s+array\s+interface", re.IGNORECASE)
    for path in sorted(BUFFERS.folder.iterdir()):
        if path.suffix in {".py", ".toml"}:
            text = path.read_text()
            for found in claim.finditer(text):
                nearby = text[max(0, found.start() - 200) : found.end()]
                assert "Tensor" not in nearby and "torch" not in nearby, f"{path.name}: {nearby}"
