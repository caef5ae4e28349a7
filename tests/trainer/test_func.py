"""``trainer.func`` against ``torch.func`` on the same float64 inputs: grad, grad_and_value, vjp, jvp, jacrev,
jacfwd, hessian, vmap and stack_module_state; their compositions (per-sample gradients, ensembles, higher
derivatives); pytrees of inputs and outputs; how results connect to ordinary autograd; and the errors."""

import copy

import numpy as np
import pytest
import torch
import torch.utils._pytree as torch_pytree

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch
from tests.trainer.test_parametrize import pair
from trainer.func.pytree import tree_flatten

TOL = 1e-9
RNG = np.random.default_rng(7)
A = RNG.standard_normal(3)
B = RNG.standard_normal((4, 3))
C = RNG.standard_normal((2, 3))


def both(fn, *arrays):
    """``fn(lib, *tensors)`` in both libraries; the results (pytrees) have the same structure, values, dtypes
    and ``requires_grad``."""
    theirs = fn(torch, *[torch.tensor(a) for a in arrays])
    ours = fn(trainer, *[trainer.tensor(a) for a in arrays])
    assert_same_tree(ours, theirs)
    return ours, theirs


def assert_same_tree(ours, theirs):
    flat_theirs, spec_theirs = torch_pytree.tree_flatten(theirs)
    flat_ours, spec_ours = tree_flatten(ours)
    assert repr(spec_ours).replace(" ", "") == _torch_spec(spec_theirs), f"{spec_ours} vs {spec_theirs}"
    for i, (o, t) in enumerate(zip(flat_ours, flat_theirs)):
        if not isinstance(t, torch.Tensor):
            assert o == t, f"leaf {i}"
            continue
        assert tuple(o.shape) == tuple(t.shape), f"leaf {i}: shape {tuple(o.shape)} vs {tuple(t.shape)}"
        assert o.dtype.name == str(t.dtype).removeprefix("torch."), f"leaf {i}: {o.dtype} vs {t.dtype}"
        assert o.requires_grad == t.requires_grad, f"leaf {i}: requires_grad {o.requires_grad} vs {t.requires_grad}"
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=TOL, atol=TOL, err_msg=f"leaf {i}")


def _torch_spec(spec) -> str:
    """PyTorch's structure written as ``trainer.func.pytree.TreeSpec`` writes it."""
    if spec.is_leaf():
        return "*"
    children = [_torch_spec(c) for c in spec.children()]
    if spec.type is dict:
        return "{" + ",".join(f"{k!r}:{c}" for k, c in zip(spec.context, children)) + "}"
    if spec.type is list:
        return "[" + ",".join(children) + "]"
    return "(" + ",".join(children) + (",)" if len(children) == 1 else ")")


def f_scalar(lib, x):
    return (x.sin() * x).sum()


# ------------------------------------------------------------------------------------------------- grad
@pytest.mark.parametrize("argnums", [0, 1, -1, (0, 1), (1, 0)])
def test_grad_argnums(argnums):
    both(lambda lib, x, y: lib.func.grad(lambda x, y: (x.exp() * y).sum(), argnums=argnums)(x, y), A, B)


def test_grad_of_pytree_inputs_with_aux_and_kwargs():
    def loss(lib):
        def fn(params, x, scale=1.0):
            out = (params["w"] * x).sum() + (params["b"][0] ** 2).sum() * scale
            return out, {"pred": x * 2, "out": [out]}
        return fn

    both(lambda lib, w, b, x: lib.func.grad(loss(lib), has_aux=True)({"w": w, "b": [b]}, x, scale=3.0), A, C, A)
    both(lambda lib, w, b, x: lib.func.grad_and_value(loss(lib), has_aux=True)({"w": w, "b": [b]}, x), A, C, A)


def test_higher_derivatives_compose():
    both(lambda lib, x: lib.func.grad(lib.func.grad(lib.func.grad(lambda x: x.sin() * x.exp())))(x[0]), A)
    # the inner grad must not see the outer variable through the closure (perturbation confusion)
    both(lambda lib, x: lib.func.grad(lambda x: lib.func.grad(lambda y: (x * y).sin())(x) * x)(x[0]), A)


def test_grad_results_connect_to_ordinary_autograd_like_torch():
    # an input that requires grad: the gradient is differentiable back to it
    assert_forward_and_gradients_match_torch(lambda lib, x: lib.func.grad(lambda x: (x**3).sin().sum())(x), [A])
    # the gradient does not depend on the closure's tensor: it does not require grad
    assert_forward_and_gradients_match_torch(
        lambda lib, x, w: (lib.func.grad(lambda w: (w**2).sum() + x.sum())(w.detach()), x * 1), [A, A])
    # a closure parameter the gradient depends on
    assert_forward_and_gradients_match_torch(
        lambda lib, x, w: lib.func.grad(lambda x: (x.sin() * w).sum())(x.detach()), [A, A])


def test_grad_under_no_grad_still_computes_but_does_not_record():
    def run(lib):
        x = lib.tensor(A, requires_grad=True)
        with lib.no_grad():
            return lib.func.grad(f_scalar.__get__(lib))(x)

    assert_same_tree(run(trainer), run(torch))


def test_grad_errors_like_torch():
    x = {torch: torch.tensor(A), trainer: trainer.tensor(A)}
    assert_raises_like_torch(lambda lib: lib.func.grad(lambda x: x)(x[lib]), RuntimeError, "scalar Tensor, got tensor "
                             "with 1 dims")
    assert_raises_like_torch(lambda lib: lib.func.grad(lambda x: 3.0)(x[lib]), RuntimeError, "to return a Tensor, got")
    assert_raises_like_torch(lambda lib: lib.func.grad(lambda x: x.sum(), has_aux=True)(x[lib]), RuntimeError,
                             r"should be a tuple: \(output, aux\)")
    assert_raises_like_torch(lambda lib: lib.func.grad(lambda x: (x.sum(), 3), has_aux=True)(x[lib]), RuntimeError,
                             "Expected tensors, got unsupported type <class 'int'>")
    assert_raises_like_torch(lambda lib: lib.func.grad(lambda x: x.sum(), argnums=2)(x[lib]), RuntimeError,
                             "Got argnum=2, but only 1 positional inputs")
    assert_raises_like_torch(lambda lib: lib.func.grad(lambda x: x.sum(), argnums=[0])(x[lib]), RuntimeError,
                             "argnums must be int or Tuple")
    assert_raises_like_torch(lambda lib: lib.func.grad(lambda x, y: x.sum(), argnums=(0, 0))(x[lib], x[lib]),
                             RuntimeError, "argnums elements must be unique")
    assert_raises_like_torch(lambda lib: lib.func.grad(lambda x: x)(2.0), ValueError,
                             "must be Tensor, got <class 'float'>")
    assert_raises_like_torch(lambda lib: lib.func.grad(lambda x: x.sum())(lib.arange(3)), RuntimeError,
                             "only Tensors of floating point dtype can require gradients")


# ------------------------------------------------------------------------------------------ vjp and jvp
def test_vjp_pytree_outputs_aux_and_repeated_calls():
    def run(lib, x, y):
        out, vjp_fn, aux = lib.func.vjp(lambda x, y: ({"a": x.exp() * y, "b": (x * y).sum()}, x.cos()), x, y,
                                        has_aux=True)
        cot = {"a": y.sin(), "b": lib.tensor(0.5, dtype=lib.float64)}
        return out, aux, vjp_fn(cot), vjp_fn({"a": y, "b": lib.tensor(2.0, dtype=lib.float64)})

    both(run, A, B)


def test_vjp_fn_differentiable_and_errors():
    # vjp_fn records when grad mode is on and the cotangent requires grad
    assert_forward_and_gradients_match_torch(lambda lib, x, v: lib.func.vjp(lambda x: x.sin() * x, x.detach())[1](v),
                                             [A, A])
    x = {torch: torch.tensor(A), trainer: trainer.tensor(A)}
    assert_raises_like_torch(lambda lib: lib.func.vjp(lambda x: x.sin(), x[lib])[1]((x[lib],)), RuntimeError,
                             r"Expected pytree structure of cotangents to be the same as pytree structure of outputs "
                             r"to the function. cotangents: \(\*,\), primal output: \*")
    assert_raises_like_torch(lambda lib: lib.func.vjp(lambda x: (x > 0).long(), x[lib]), RuntimeError,
                             "All outputs of f must be floating-point or complex Tensors")
    assert_raises_like_torch(lambda lib: lib.func.vjp(lambda x: (x, 1), x[lib]), RuntimeError,
                             "expected f\\(\\*primals\\) to return only tensors")


def test_jvp_pytrees_aux_and_independent_outputs():
    def run(lib, x, y):
        def fn(p, q):
            return {"a": p["x"].exp() * q, "c": lib.ones(2, dtype=lib.float64)}, (p["x"] * 3).sum()
        return lib.func.jvp(fn, ({"x": x}, y), ({"x": x.cos()}, y.sin()), has_aux=True)

    both(run, A, B)
    both(lambda lib, x: lib.func.jvp(lambda x: (x.sin() * x).tanh(), (x,), (x * 2,)), A)


def test_jvp_is_differentiable_and_composes():
    assert_forward_and_gradients_match_torch(lambda lib, x, v: lib.func.jvp(lambda x: x.sin() * x, (x,), (v,)),
                                             [A, A])
    both(lambda lib, x: lib.func.grad(lambda x: lib.func.jvp(lambda y: (y**3).sum(), (x,), (x,))[1])(x), A)


def test_jvp_errors_like_torch():
    x = {torch: torch.tensor(A), trainer: trainer.tensor(A)}
    assert_raises_like_torch(lambda lib: lib.func.jvp(lambda x: x, x[lib], x[lib]), RuntimeError,
                             "Expected primals to be a tuple")
    assert_raises_like_torch(lambda lib: lib.func.jvp(lambda x: x, (x[lib],), [x[lib]]), RuntimeError,
                             "Expected primals and tangents to have the same python structure")
    assert_raises_like_torch(lambda lib: lib.func.jvp(lambda x: x, (x[lib],), (x[lib][:2],)), RuntimeError,
                             "Tensor is of size \\[3\\] while the given forward gradient is of size \\[2\\]")
    assert_raises_like_torch(lambda lib: lib.func.jvp(lambda x: lib.ones(2), (x[lib],), (x[lib],), strict=True),
                             RuntimeError, "The output of f is independent of the inputs")
    assert_raises_like_torch(lambda lib: lib.func.jvp(lambda x: x, (x[lib], 2.0), (x[lib], 2.0)), RuntimeError,
                             "Expected primals to only contain Tensors")


# ------------------------------------------------------------------------------------ jacobians, hessian
@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jacobians_of_pytrees(name):
    def run(lib, x, y):
        transform = getattr(lib.func, name)
        fn = lambda x, y: {"p": x.exp() * y, "s": [(x * y).sum()]}  # noqa: E731
        return (transform(fn)(x, y), transform(fn, argnums=(1, 0))(x, y),
                transform(lambda x: (x.sin(), x[0]), has_aux=True)(x))

    both(run, A, C)


def test_hessian_and_nested_jacobians():
    both(lambda lib, x, y: lib.func.hessian(lambda x, y: (x.exp() * y).sum() * x.sum(), argnums=(0, 1))(x, y), A, C)
    both(lambda lib, x: lib.func.jacrev(lib.func.jacrev(lambda x: x.sin() * x.prod()))(x), A)
    both(lambda lib, x: lib.func.jacfwd(lib.func.jacrev(lambda x: 2 * x))(x), A)  # a linear function: zeros
    assert_forward_and_gradients_match_torch(lambda lib, x: lib.func.hessian(lambda x: (x**4).sum())(x), [A])


def test_jacobian_errors_and_randomness():
    x = {torch: torch.tensor(A), trainer: trainer.tensor(A)}
    assert_raises_like_torch(lambda lib: lib.func.jacrev(lambda x: x, chunk_size=0), ValueError,
                             "jacrev: `chunk_size` should be greater than 0.")
    assert_raises_like_torch(lambda lib: lib.func.jacfwd(lambda x: x * lib.rand(3, dtype=lib.float64))(x[lib]),
                             RuntimeError, "called random operation while in randomness error mode")
    state = trainer.get_rng_state()
    assert_raises_like_torch(lambda lib: lib.func.jacfwd(lambda x: x * lib.rand(3, dtype=lib.float64))(x[lib]),
                             RuntimeError, "randomness error mode")
    assert (trainer.get_rng_state().numpy() == state.numpy()).all()  # the refused draw consumed nothing
    trainer.manual_seed(0)
    noise = trainer.rand(3, dtype=trainer.float64)
    trainer.manual_seed(0)
    jac = trainer.func.jacfwd(lambda x: x * trainer.rand(3, dtype=trainer.float64), randomness="same")(x[trainer])
    np.testing.assert_allclose(jac.numpy(), np.diag(noise.numpy()))
    assert trainer.func.jacrev(lambda x: x * trainer.rand(3, dtype=trainer.float64))(x[trainer]).shape == (3, 3)


# ------------------------------------------------------------------------------------------------- vmap
@pytest.mark.parametrize("in_dims,out_dims,x,y", [(0, 0, B, B), ((1, None), (1, 0), B.T, C), ((-1, None), -1, B.T, C),
                                                (0, (-1, 0), B, B)])
def test_vmap_in_and_out_dims(in_dims, out_dims, x, y):
    both(lambda lib, x, y: lib.func.vmap(lambda x, y: (x.exp() * y.sum(), (x * 2).sum()), in_dims=in_dims,
                                         out_dims=out_dims)(x, y), x.copy(), y)


def test_vmap_nested_tuple_argument_and_unbatched_output():
    both(lambda lib, x, y: lib.func.vmap(lambda pair: (pair[0] * pair[1], pair[1].sum()), in_dims=((1, None),),
                                         out_dims=(1, None))((x, y)), B.T.copy(), A)


def test_vmap_dict_inputs_kwargs_chunks_and_nesting():
    def run(lib, x, y):
        fn = lambda d, scale=1.0: {"out": (d["x"] @ d["w"]) * scale, "n": d["x"].norm()}  # noqa: E731
        args = ({"x": x, "w": y.T},)
        return (lib.func.vmap(fn, in_dims=({"x": 0, "w": None},))(*args, scale=2.0),
                lib.func.vmap(fn, in_dims=({"x": 0, "w": None},), chunk_size=3)(*args),
                lib.func.vmap(lib.func.vmap(lambda a, b: a * b, in_dims=(0, None)), in_dims=(None, 0))(x[0], y))

    both(run, B, C)


def test_per_sample_gradients_example_from_pytorch_docs():
    """PyTorch's per-sample-gradient tutorial (a smaller CNN): vmap(grad(loss)) over functional_call."""
    def make_model(lib):
        nn, functional = lib.nn, lib.nn.functional

        class SimpleCNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 3, 3, 1)
                self.conv2 = nn.Conv2d(3, 4, 3, 1)
                self.fc1 = nn.Linear(36, 8)
                self.fc2 = nn.Linear(8, 5)

            def forward(self, x):
                x = functional.relu(self.conv2(functional.relu(self.conv1(x))))
                x = lib.flatten(functional.max_pool2d(x, 2), 1)
                return functional.log_softmax(self.fc2(functional.relu(self.fc1(x))), dim=1)

        return SimpleCNN()

    theirs_model, ours_model = pair(make_model)
    data = RNG.standard_normal((4, 1, 10, 10))
    targets = np.array([1, 4, 0, 2])

    def per_sample_grads(lib, model):
        params = {k: v.detach() for k, v in model.named_parameters()}
        buffers = {k: v.detach() for k, v in model.named_buffers()}

        def compute_loss(params, buffers, sample, target):
            predictions = lib.func.functional_call(model, (params, buffers), (sample.unsqueeze(0),))
            return lib.nn.functional.nll_loss(predictions, target.unsqueeze(0))

        compute_sample_grad = lib.func.vmap(lib.func.grad(compute_loss), in_dims=(None, None, 0, 0))
        return compute_sample_grad(params, buffers, lib.tensor(data), lib.tensor(targets))

    ours = per_sample_grads(trainer, ours_model)
    assert_same_tree(ours, per_sample_grads(torch, theirs_model))
    # and they are the per-sample gradients ordinary autograd gives, one sample at a time
    for i in range(len(data)):
        ours_model.zero_grad()
        sample, target = trainer.tensor(data[i:i + 1]), trainer.tensor(targets[i:i + 1])
        loss = trainer.nn.functional.nll_loss(ours_model(sample), target)
        loss.backward()
        for name, p in ours_model.named_parameters():
            np.testing.assert_allclose(ours[name][i].numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_model_ensembling_with_stack_module_state():
    """PyTorch's model-ensembling tutorial: stack_module_state, then vmap over functional_call."""
    models = {lib: [lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).double()
                    for _ in range(3)] for lib in (torch, trainer)}
    for theirs, ours in zip(models[torch], models[trainer]):
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})

    def ensemble(lib, x):
        params, buffers = lib.func.stack_module_state(models[lib])
        base = copy.deepcopy(models[lib][0])

        def fmodel(params, buffers, x):
            return lib.func.functional_call(base, (params, buffers), (x,))

        out = lib.func.vmap(fmodel, in_dims=(0, 0, None))(params, buffers, x)
        assert all(p.is_leaf and p.requires_grad for p in params.values())
        out.square().sum().backward()
        return out, {k: p.grad for k, p in params.items()}

    both(ensemble, B)


def test_stack_module_state_errors():
    assert_raises_like_torch(lambda lib: lib.func.stack_module_state([]), RuntimeError, "Expected at least one model")
    assert_raises_like_torch(lambda lib: lib.func.stack_module_state([lib.nn.Linear(2, 2), lib.nn.Tanh()]),
                             RuntimeError, "Expected all models to be of the same class")
    assert_raises_like_torch(lambda lib: lib.func.stack_module_state([lib.nn.Linear(2, 2), lib.nn.Linear(2, 2).eval()]),
                             RuntimeError, "same training/eval mode")


def test_vmap_grad_and_jacrev_through_vmap():
    # grad of a vmapped function differentiates through slicing and stacking
    both(lambda lib, x: lib.func.grad(lambda x: lib.func.vmap(lambda r: r.sin().prod())(x).sum())(x), B)
    both(lambda lib, x: lib.func.jacrev(lib.func.vmap(lambda r: r.exp() * r.sum()))(x), C)
    assert_forward_and_gradients_match_torch(lambda lib, x: lib.func.vmap(lambda r: r.sin() * r.sum())(x), [B])


def test_vmap_randomness():
    x = {torch: torch.tensor(B), trainer: trainer.tensor(B)}
    assert_raises_like_torch(lambda lib: lib.func.vmap(lambda r: r + lib.rand(()))(x[lib]), RuntimeError,
                             "vmap: called random operation while in randomness error mode. Please either use the "
                             "'same' or 'different' randomness flags on vmap")
    assert_raises_like_torch(lambda lib: lib.func.vmap(lambda r: lib.nn.functional.dropout(r, 0.5))(x[lib]),
                             RuntimeError, "randomness error mode")
    same = trainer.func.vmap(lambda r: r * 0 + trainer.rand(3, dtype=trainer.float64), randomness="same")(x[trainer])
    assert (same == same[0]).all()
    different = trainer.func.vmap(lambda r: r * 0 + trainer.rand(3, dtype=trainer.float64),
                                  randomness="different", chunk_size=2)(x[trainer])
    assert len({tuple(row) for row in different.numpy().tolist()}) == 4
    assert_raises_like_torch(lambda lib: lib.func.vmap(lambda r: r, randomness="sometimes"), RuntimeError,
                             "Only allowed values for randomness are 'error', 'different', or 'same'. Got sometimes")


def test_vmap_empty_batch():
    both(lambda lib, x: lib.func.vmap(lambda r: (r * 2, r.sum()))(x[:0]), B)


def test_vmap_errors_like_torch():
    x, y = {torch: torch.tensor(B), trainer: trainer.tensor(B)}, {torch: torch.tensor(C), trainer: trainer.tensor(C)}

    def fn(a, b=None):
        return a

    cases = [
        (lambda lib: lib.func.vmap(fn, in_dims=(0,))(x[lib], x[lib]),
         r"vmap\(fn, in_dims=\(0,\), ...\)\(<inputs>\): in_dims is not compatible with the structure of `inputs`"),
        (lambda lib: lib.func.vmap(fn, in_dims=[0, 0])(x[lib], x[lib]),
         "expected `in_dims` to be int or a \\(potentially nested\\) tuple"),
        (lambda lib: lib.func.vmap(fn)(x[lib], y[lib]),
         r"Expected all tensors to have the same size in the mapped dimension, got sizes \[4, 2\]"),
        (lambda lib: lib.func.vmap(fn, in_dims=2)(x[lib]), "Got in_dim=2 for some input, but that input is a Tensor of "
         "dimensionality 2 so expected in_dim to satisfy -2 <= in_dim < 2."),
        (lambda lib: lib.func.vmap(fn, in_dims=(0, 0))(x[lib], 3.0), "cannot vmap over non-Tensor arguments"),
        (lambda lib: lib.func.vmap(fn, in_dims=(None,))(x[lib]), "Expected at least one Tensor to vmap over"),
        (lambda lib: lib.func.vmap(fn, in_dims=(0.5,))(x[lib]), "in_dim must be either an integer dimension or None"),
        (lambda lib: lib.func.vmap(fn)(), r"vmap\(fn\)\(<inputs>\): got no inputs"),
        (lambda lib: lib.func.vmap(lambda a: 3)(x[lib]), "must only return Tensors, got type <class 'int'>. Did you "
         "mean to set out_dims= to None for output?"),
        (lambda lib: lib.func.vmap(fn, out_dims=None)(x[lib]), "can not return a BatchedTensor when out_dim is None"),
        (lambda lib: lib.func.vmap(fn, out_dims=(0, 0))(x[lib]), "out_dims is not compatible with the structure"),
        (lambda lib: lib.func.vmap(fn, out_dims="0")(x[lib]), "`out_dims` must be an int, None or a python collection"),
        (lambda lib: lib.func.vmap(fn, chunk_size=0), r"vmap: chunk_size should be None or greater than 0. \(got 0\)"),
    ]
    for call, message in cases:
        assert_raises_like_torch(call, ValueError, message)


def test_functional_call_is_still_exported():
    assert trainer.func.functional_call is trainer.nn.utils.stateless.functional_call
    assert set(trainer.func.__all__) >= {"grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
                                         "vmap", "stack_module_state", "functional_call"}
