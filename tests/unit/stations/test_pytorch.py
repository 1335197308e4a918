"""Station 6 (PyTorch): its checks fed true and false observations, and what it tells learners."""

from __future__ import annotations

from lab.run import stations
from lab.run.observations import Observation, Observations, load_checks, run_check

PYTORCH = stations.find("6")


def status(name: str, values: dict, experiment: str, **options) -> str:
    check = next(c for c in load_checks(PYTORCH.checks_file) if c.__name__ == f"check_{name}")
    records = [Observation(experiment, "cuda", k, v) for k, v in values.items()]
    return run_check(check, Observations(records, **options)).status


def names(accumulate_grad: str = "torch::autograd::AccumulateGrad") -> dict:
    # torch 2.6.0's CPU build in lab-cuda:stock: Python class name -> C++ name()
    node_names = {
        "SumBackward0": "SumBackward0",
        "MulBackward0": "MulBackward0",
        "AccumulateGrad": accumulate_grad,
    }
    return {"node_names": node_names}


def test_base_node_name_is_the_cpp_type_not_the_class_name() -> None:
    assert status("generated_nodes_name_themselves", names(), "seed_autograd") == "pass"
    # the old reading: Node::name gives the name grad_fn shows
    said = names(accumulate_grad="AccumulateGrad")
    assert status("generated_nodes_name_themselves", said, "seed_autograd") == "fail"


def test_reading_sends_grad_fn_names_to_the_generated_overrides() -> None:
    by_path = {entry.get("path"): entry for entry in PYTORCH.reading}
    assert "demangled C++ type" in by_path["torch/csrc/autograd/function.cpp"]["why"]
    assert "name()" in by_path["tools/autograd/gen_autograd_functions.py"]["why"]
