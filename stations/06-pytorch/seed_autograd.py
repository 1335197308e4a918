"""The curriculum's snippet, unchanged; then the graph forward built, walked from grad_fn,
and the gradient checked against the analytic one (d/dx sum(x*x) = 2x).

Each node has two names. type(node).__name__ is its Python class, which addClass registers
under the node's op name. node.name() calls the C++ Node::name: the base one returns the
demangled C++ type (torch::autograd::AccumulateGrad); SumBackward0 and MulBackward0 return
their op name from the override tools/autograd/gen_autograd_functions.py generates."""

import torch
from labkit import observe

x = torch.randn(4, 4, requires_grad=True)
y = (x * x).sum()
y.backward()
print(x.grad)
print(torch.cuda.is_available(), torch.cuda.current_stream() if torch.cuda.is_available() else None)


def walk(fn, depth=0):
    """The backward graph from FN: each node, what it saved, and the edges backward follows."""
    indent = "  " * depth
    if hasattr(fn, "variable"):  # AccumulateGrad: where backward writes a leaf's .grad
        return [f"{indent}AccumulateGrad -> x{tuple(fn.variable.shape)}.grad"]
    saved = [a.removeprefix("_saved_") for a in dir(fn) if a.startswith("_saved_")]
    lines = [f"{indent}{type(fn).__name__}" + (f" (saved: {', '.join(saved)})" if saved else "")]
    for parent, _ in fn.next_functions:
        if parent is not None:
            lines += walk(parent, depth + 1)
    return lines


def node_names(fn, names=None) -> dict[str, str]:
    """Each node's Python class name -> what its C++ name() returns."""
    names = {} if names is None else names
    names[type(fn).__name__] = fn.name()
    for parent, _ in fn.next_functions:
        if parent is not None:
            node_names(parent, names)
    return names


graph = walk(y.grad_fn)
print("the graph forward built, from y.grad_fn:")
print("\n".join(graph))
names = node_names(y.grad_fn)
print("Python class -> C++ name():", ", ".join(f"{k} -> {v}" for k, v in names.items()))

analytic = 2 * x.detach()
error = (x.grad - analytic).abs().max().item()
print(f"max |x.grad - 2x| = {error:.3g}")
# The same gradient, numerically: finite differences in float64 against autograd's.
x64 = x.detach().double().requires_grad_()
numeric_ok = torch.autograd.gradcheck(lambda t: (t * t).sum(), (x64,))

observe("graph", graph)
observe("grad_fn", type(y.grad_fn).__name__)
observe("node_names", names)
observe("leaf_grad_fn", x.grad_fn)
observe("max_error_vs_analytic", error)
observe("gradcheck_passed", bool(numeric_ok))
observe("cuda_available", torch.cuda.is_available())
observe("current_stream", str(torch.cuda.current_stream()) if torch.cuda.is_available() else None)
observe("torch", torch.__version__)
