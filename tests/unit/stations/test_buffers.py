"""Station 5 (buffers): who refuses a transpose and who reads it as it is, what shares memory
without a copy, and, on the Tensor side, that NumPy reaches a Tensor through __array__, not an
array interface."""

from __future__ import annotations

import re

import pytest

from lab.run import stations
from lab.run.observations import Observations, load_checks
from tests.unit.stations.judging import judge, observations, status

BUFFERS = stations.find("5")
CHECK = "numpy_reaches_a_tensor_through_array"


# -- a transpose handed to C: who refuses it, who reads it as it is; DLPack --------------------
def refusals(**changed) -> Observations:
    values = {
        "ndpointer_refuses_transpose": "argument 1: TypeError: array must have flags",
        "numpy_grants_strided": {"strides": [8, 32], "f_contiguous": True},
        "ctypes_refuses": "TypeError: underlying buffer is not C contiguous",
        "numpy_refuses_simple": "ValueError: ndarray is not C-contiguous",
        "expected": [12, 15, 18, 21],
        "t_f_contiguous": True,
        "f_order_function_given_transpose": [12, 15, 18, 21],
        **changed,
    }
    return observations("c_order_call", values)


def test_the_refusal_is_pinned_on_whoever_refuses() -> None:
    assert status("who_refuses_the_transpose", "5", refusals()) == "pass"
    # the old story: NumPy refusing ctypes' request
    wrong = refusals(ctypes_refuses="ValueError: ndarray is not C-contiguous")
    assert status("who_refuses_the_transpose", "5", wrong) == "fail"
    assert status("who_refuses_the_transpose", "5", refusals(numpy_refuses_simple="")) == "fail"
    assert status("who_refuses_the_transpose", "5", refusals(numpy_grants_strided={})) == "fail"


def test_a_fortran_consumer_reads_the_transpose_as_it_is() -> None:
    assert status("fortran_consumer_needs_no_copy", "5", refusals()) == "pass"
    wrong = refusals(f_order_function_given_transpose=[3, 12, 21, 30])
    assert status("fortran_consumer_needs_no_copy", "5", wrong) == "fail"


def test_dlpack_must_share() -> None:
    def dlpack(held: dict) -> Observations:
        return observations("tensor_buffer", {"dlpack": held}, "cuda")

    check = "dlpack_shares_without_a_copy"
    shared = {
        "torch.from_dlpack(a.T) at a's address": True,
        "its strides are a.T's": True,
        "np.from_dlpack(Tensor) at the same address": True,
        "a write through the Tensor seen in a": True,
    }
    assert status(check, "5", dlpack(shared)) == "pass"
    assert status(check, "5", dlpack({})) == "fail", "all of nothing held"
    copied = {**shared, "torch.from_dlpack(a.T) at a's address": False}
    assert status(check, "5", dlpack(copied)) == "fail"


def test_constructors_copying_is_shown_not_checked() -> None:
    # bytes(x) copies by definition: a check of it could not fail, so none exists.
    names = {c.__name__ for c in load_checks(BUFFERS.checks_file)}
    assert "check_constructors_copy" not in names


# -- the Tensor side: what it shares, and how NumPy reaches it ---------------------------------
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
    return observations("tensor_buffer", values, "cuda")


def test_a_tensor_must_share_what_it_consumes() -> None:
    def tensor(shared: bool) -> Observations:
        values = {
            "torch_version": "2.6.0",
            "same_address": {"bytearray -> Tensor": shared, "array.array -> Tensor": True},
            "writes_seen": {"Tensor[0] = 100": True},
            "np_shares_memory": {"ndarray, np.asarray(Tensor)": True},
        }
        return observations("tensor_buffer", values, "cuda")

    assert status("tensor_consumes_buffers_without_a_copy", "5", tensor(True)) == "pass"
    assert status("tensor_consumes_buffers_without_a_copy", "5", tensor(False)) == "fail"


def test_asarray_through_array_passes() -> None:
    result = judge(CHECK, "5", tensor_buffer())
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
    result = judge(CHECK, "5", tensor_buffer(**changed))
    assert result.status == "fail", result.detail


def test_not_run_where_the_torch_image_is_missing_is_a_skip() -> None:
    obs = Observations(variants_run={"stock"}, planned={"tensor_buffer": ("cuda",)})
    assert status(CHECK, "5", obs) == "skip"


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
