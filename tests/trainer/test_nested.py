"""``trainer.nested`` against ``torch.nested`` on the same float64 data: construction, structure, printing,
padding, elementwise ops, linear, softmax, layer norm, reductions, attention (values and gradients of the
constituent tensors) and the errors PyTorch raises."""

import re
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

LENGTHS = (2, 4, 1)


def _rows(*trailing, lengths=LENGTHS, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, *trailing)) for n in lengths]


def _jagged(lib, tensors):
    return lib.nested.as_nested_tensor(list(tensors), layout=lib.jagged)


def _strided(lib, tensors):
    return lib.nested.as_nested_tensor(list(tensors), layout=lib.strided)


def _padded(lib, nt):
    return lib.nested.to_padded_tensor(nt, 0.0)


def _reference_padded(components, padding=0.0):
    """What a nested result means, built in PyTorch from dense components (where torch.nested has no backward,
    or a wrong one): the components padded at the end of every dim and stacked."""
    size = [max(extents) for extents in zip(*(c.shape for c in components))]
    return torch.stack([torch.nn.functional.pad(c, [p for d in reversed(range(c.ndim))
                                                    for p in (0, size[d] - c.shape[d])], value=padding)
                        for c in components])


def _shapes(nt):
    return [list(t.shape) for t in nt.unbind()]


@pytest.fixture(autouse=True)
def _quiet_torch():
    with warnings.catch_warnings():  # torch warns that nested tensors are a prototype, and which SDPA kernels it skips
        warnings.simplefilter("ignore")
        yield


# ----------------------------------------------------------------- construction and structure
@pytest.mark.parametrize("layout", ["strided", "jagged"])
def test_nested_tensor_copies_components_and_reports_structure(layout):
    arrays = _rows(3)
    theirs = torch.nested.nested_tensor([torch.tensor(a) for a in arrays], layout=getattr(torch, layout))
    ours = trainer.nested.nested_tensor([trainer.tensor(a) for a in arrays], layout=getattr(trainer, layout))
    assert ours.is_nested and repr(ours.layout) == repr(theirs.layout).replace("torch", "trainer")
    assert (ours.dim(), ours.size(0), ours.size(-1), ours.numel()) == (theirs.dim(), theirs.size(0),
                                                                      theirs.size(-1), theirs.numel())
    assert ours.dtype is trainer.float64 and not ours.requires_grad and ours.is_leaf
    assert _shapes(ours) == _shapes(theirs)
    for o, t in zip(ours.unbind(), theirs.unbind()):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    np.testing.assert_array_equal(ours.values().numpy(), theirs.values().numpy())


def test_jagged_shape_offsets_and_from_jagged():
    arrays = _rows(3)
    ours = trainer.nested.nested_tensor([trainer.tensor(a) for a in arrays], layout=trainer.jagged)
    theirs = torch.nested.nested_tensor([torch.tensor(a) for a in arrays], layout=torch.jagged)
    assert re.fullmatch(r"trainer\.Size\(\[3, j\d+, 3\]\)", repr(ours.shape))
    assert ours.shape[1] is ours.size(1) and (ours * 2).shape[1] is ours.size(1)  # one j<n> per offsets
    assert ours.offsets().tolist() == theirs.offsets().tolist() == [0, 2, 6, 7]
    assert ours.lengths() is None and ours.is_contiguous()

    values = np.concatenate(arrays)
    v_ours, v_theirs = trainer.tensor(values), torch.tensor(values)
    for kwargs in ({"offsets": [0, 2, 6, 7]}, {"lengths": [2, 4, 1]}, {"offsets": [0, 3, 6], "lengths": [2, 1]}):
        ours = trainer.nested.nested_tensor_from_jagged(v_ours, **{k: trainer.tensor(v) for k, v in kwargs.items()})
        theirs = torch.nested.nested_tensor_from_jagged(v_theirs, **{k: torch.tensor(v) for k, v in kwargs.items()})
        assert _shapes(ours) == _shapes(theirs)
        for o, t in zip(ours.unbind(), theirs.unbind()):
            np.testing.assert_array_equal(o.numpy(), t.numpy())

    # jagged_dim=2: the ragged dim is the second of each component
    ours = trainer.nested.nested_tensor_from_jagged(v_ours.T, trainer.tensor([0, 2, 6, 7]), jagged_dim=2)
    theirs = torch.nested.nested_tensor_from_jagged(v_theirs.T, torch.tensor([0, 2, 6, 7]), jagged_dim=2)
    assert _shapes(ours) == _shapes(theirs) == [[3, 2], [3, 4], [3, 1]]
    for o, t in zip(ours.unbind(), theirs.unbind()):
        np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_as_nested_tensor_of_a_dense_tensor_and_of_nested_lists():
    data = np.arange(24.0).reshape(2, 3, 4)
    ours = trainer.nested.as_nested_tensor(trainer.tensor(data), layout=trainer.jagged)
    theirs = torch.nested.as_nested_tensor(torch.tensor(data), layout=torch.jagged)
    assert _shapes(ours) == _shapes(theirs)
    ours = trainer.nested.nested_tensor([[1.0, 2.0], [3.0]], layout=trainer.jagged)
    theirs = torch.nested.nested_tensor([[1.0, 2.0], [3.0]], layout=torch.jagged)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    assert ours.offsets().tolist() == theirs.offsets().tolist()


def test_strided_sizes_follow_torch():
    arrays = [np.ones((2, 3)), np.ones((4, 3))]
    ours = trainer.nested.nested_tensor([trainer.tensor(a) for a in arrays])
    assert ours.layout is trainer.strided and ours.size(2) == 3 and ours.size(0) == 2
    assert_raises_like_torch(lambda lib: lib.nested.nested_tensor([lib.ones(2, 3), lib.ones(4, 3)]).size(1),
                             RuntimeError, "dimension 1 is irregular")
    assert_raises_like_torch(lambda lib: lib.nested.nested_tensor([lib.ones(2, 3), lib.ones(4, 3)]).size(),
                             RuntimeError, "strided layout")


def test_printing_matches_torch():
    arrays = [np.arange(6.0).reshape(2, 3), np.arange(9.0).reshape(3, 3)]
    theirs = torch.nested.nested_tensor([torch.tensor(a) for a in arrays])
    ours = trainer.nested.nested_tensor([trainer.tensor(a) for a in arrays])
    assert repr(ours) == repr(theirs).replace("torch.", "trainer.")
    empty = repr(trainer.nested.nested_tensor([]))
    assert empty == "nested_tensor([\n\n])" == repr(torch.nested.nested_tensor([]))

    def normalized(nt):
        return re.sub(r"j\d+", "j", re.sub(r" object at 0x[0-9a-f]+", "", repr(nt)))

    values = [trainer.tensor(a, requires_grad=True) for a in arrays]
    ours = trainer.nested.nested_tensor([trainer.tensor(a) for a in arrays], layout=trainer.jagged)
    theirs = torch.nested.nested_tensor([torch.tensor(a) for a in arrays], layout=torch.jagged)
    assert normalized(ours) == normalized(theirs) == ("NestedTensor(size=(2, j, 3), offsets=tensor([0, 2, 5]), "
                                                      "contiguous=True)")
    assert normalized(ours.requires_grad_()).endswith("requires_grad=True, contiguous=True)")
    assert re.search(r"grad_fn=<\w+Backward0>, contiguous=True\)$", normalized(_jagged(trainer, values)))


# ----------------------------------------------------------------- padding
@pytest.mark.parametrize("layout", ["strided", "jagged"])
@pytest.mark.parametrize("output_size", [None, (3, 5, 4)])
def test_to_padded_tensor_values_and_gradients(layout, output_size):
    def fn(lib, *ts):
        nt = lib.nested.as_nested_tensor(list(ts), layout=getattr(lib, layout))
        return lib.nested.to_padded_tensor(nt, -1.5, output_size)

    assert_forward_and_gradients_match_torch(fn, _rows(3))


def test_jagged_to_padded_tensor_output_size_pads_or_cuts_the_ragged_dim_only():
    tensors = [trainer.tensor(a) for a in _rows(3)]
    for output_size in [(3, 6, 7), (3, 3, 3)]:  # as PyTorch, the other entries are not read
        ours = trainer.nested.to_padded_tensor(_jagged(trainer, tensors), 0.0, output_size)
        theirs = torch.nested.to_padded_tensor(_jagged(torch, [torch.tensor(t.numpy()) for t in tensors]), 0.0,
                                               output_size)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_to_padded_tensor_of_transposed_jagged():
    arrays = _rows(2, 3)
    theirs = torch.nested.to_padded_tensor(_jagged(torch, [torch.tensor(a) for a in arrays]).transpose(1, 2), 0.5)

    def fn(lib, *ts):  # torch.nested has no backward for this: the reference is dense
        if lib is torch:
            return _reference_padded([t.transpose(0, 1) for t in ts], 0.5)
        return lib.nested.to_padded_tensor(_jagged(lib, ts).transpose(1, 2), 0.5)

    np.testing.assert_array_equal(fn(trainer, *map(trainer.tensor, arrays)).numpy(), theirs.numpy())
    assert_forward_and_gradients_match_torch(fn, arrays)


# ----------------------------------------------------------------- elementwise
ELEMENTWISE = {
    "sin_exp": lambda lib, nt, dense: nt.sin() * nt.exp() - nt.tanh(),
    "sigmoid_relu": lambda lib, nt, dense: nt.sigmoid() + nt.relu() + abs(nt),
    "scalars": lambda lib, nt, dense: 2 - nt * 3 + nt / 4 + 1 / (nt * nt + 1),
    "pow_neg": lambda lib, nt, dense: -(nt ** 2) + nt.pow(3) * 0.1,
    "nested_nested": lambda lib, nt, dense: nt * nt.cos() + nt.sub(nt.sin(), alpha=2),
    "dense_row": lambda lib, nt, dense: nt * dense[0, 0],
    "dense_row_reversed": lambda lib, nt, dense: dense[0, 0] - nt,
    "dense_1_1_d": lambda lib, nt, dense: nt + dense[:1, :1],
    "dense_per_component": lambda lib, nt, dense: nt * dense[:, :1] + dense[:, :1],
    "zero_dim": lambda lib, nt, dense: nt * dense[0, 0, 1],
    "where_compare": lambda lib, nt, dense: (nt > 0) * nt + (nt <= 0) * 2.0,
    "functional": lambda lib, nt, dense: (lib.nn.functional.gelu(nt, approximate="tanh") + lib.nn.functional.relu(nt)
                                          + lib.nn.functional.dropout(nt, 0.3, training=False)),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_jagged_elementwise_ops(name):
    op = ELEMENTWISE[name]

    def fn(lib, dense, *ts):
        return _padded(lib, op(lib, _jagged(lib, ts), dense))

    rng = np.random.default_rng(3)
    assert_forward_and_gradients_match_torch(fn, [rng.standard_normal((3, 1, 4)), *_rows(4)])


@pytest.mark.parametrize("name", ["sin_exp", "sigmoid_relu", "scalars", "pow_neg", "nested_nested", "zero_dim",
                                  "where_compare", "functional"])
def test_strided_elementwise_ops(name):
    op = ELEMENTWISE[name]

    def fn(lib, dense, *ts):  # torch's strided layout lacks many of these ops or their backward: a dense reference
        if lib is torch:
            return _reference_padded([op(lib, t, dense) for t in ts])
        return _padded(lib, op(lib, _strided(lib, ts), dense))

    rng = np.random.default_rng(3)
    assert_forward_and_gradients_match_torch(fn, [rng.standard_normal((3, 1, 4)), *_rows(4)])


def test_dropout_in_training_zeroes_or_scales_each_value():
    trainer.manual_seed(0)
    nt = _jagged(trainer, [trainer.tensor(a) + 5 for a in _rows(3, lengths=(40, 60))])
    out = trainer.nn.Dropout(0.25)(nt)
    assert out.is_nested and out.offsets() is nt.offsets()
    kept = out.values().numpy() != 0
    assert 0.6 < kept.mean() < 0.9
    np.testing.assert_allclose(out.values().numpy()[kept], nt.values().numpy()[kept] / 0.75)


@pytest.mark.parametrize("layout", ["strided", "jagged"])
def test_leaf_nested_tensor_gets_a_nested_grad(layout):
    arrays = _rows(3)
    grads = {}
    for lib in (torch, trainer):
        nt = lib.nested.nested_tensor([lib.tensor(a) for a in arrays], layout=getattr(lib, layout),
                                      requires_grad=True)
        assert nt.is_leaf and nt.requires_grad and nt.grad is None
        (_padded(lib, nt * nt) * lib.arange(3.0, dtype=lib.float64)).sum().backward()
        assert nt.grad.is_nested and nt.grad.layout is getattr(lib, layout)
        grads[lib] = nt.grad.values().detach().numpy()
        detached = nt.detach().to(lib.float32)
        assert not detached.requires_grad and detached.dtype is lib.float32 and detached.layout is nt.layout
    np.testing.assert_allclose(grads[trainer], grads[torch])


# ----------------------------------------------------------------- linear, matmul, softmax, norms, reductions
@pytest.mark.parametrize("layout", ["strided", "jagged"])
def test_linear_and_module(layout):
    rng = np.random.default_rng(5)

    def fn(lib, w, b, *ts):
        nt = lib.nested.as_nested_tensor(list(ts), layout=getattr(lib, layout))
        return _padded(lib, lib.nn.functional.linear(nt, w, b).relu())

    assert_forward_and_gradients_match_torch(fn, [rng.standard_normal((5, 3)), rng.standard_normal(5), *_rows(3)])


def test_linear_module_on_jagged_rows():
    trainer.manual_seed(0)
    layer = trainer.nn.Linear(3, 2, dtype=trainer.float64)
    nt = _jagged(trainer, [trainer.tensor(a) for a in _rows(3)])
    out = layer(nt)
    assert out.is_nested and out.offsets() is nt.offsets() and out.size(-1) == 2
    np.testing.assert_allclose(out.values().detach().numpy(), layer(nt.values()).detach().numpy())


def test_jagged_matmul_with_dense():
    rng = np.random.default_rng(6)

    def fn(lib, w, *ts):
        return _padded(lib, _jagged(lib, ts) @ w)

    assert_forward_and_gradients_match_torch(fn, [rng.standard_normal((3, 2)), *_rows(3)])


def test_strided_matmul_of_nested_tensors():
    def fn(lib, *ts):
        nt = _strided(lib, ts)
        return _padded(lib, nt.matmul(nt.transpose(1, 2)))

    assert_forward_and_gradients_match_torch(fn, _rows(3))


@pytest.mark.parametrize("layout", ["strided", "jagged"])
@pytest.mark.parametrize("dim", [-1, 1])
def test_softmax(layout, dim):
    def fn(lib, *ts):
        if lib is torch and dim == 1:  # torch.nested's gradient along the ragged dim is wrong: a dense reference
            return (_reference_padded([t.softmax(0) for t in ts]),
                    _reference_padded([t.softmax(0) * t for t in ts]))
        nt = lib.nested.as_nested_tensor(list(ts), layout=getattr(lib, layout))
        # padded entries are 0 and softmax never is: the mask keeps the comparison to real entries
        return _padded(lib, lib.nn.functional.softmax(nt, dim=dim)), _padded(lib, nt.softmax(dim) * nt)

    assert_forward_and_gradients_match_torch(fn, _rows(3))


def test_jagged_log_softmax_over_last_dim():
    def fn(lib, *ts):
        if lib is torch:  # torch.nested has no backward for log_softmax: a dense reference
            return _reference_padded([t.log_softmax(-1) for t in ts])
        return _padded(lib, _jagged(lib, ts).log_softmax(-1))

    assert_forward_and_gradients_match_torch(fn, _rows(3))
    tensors = [torch.tensor(a) for a in _rows(3)]
    np.testing.assert_allclose(_jagged(torch, tensors).log_softmax(-1).values().numpy(),
                               _jagged(trainer, [trainer.tensor(t.numpy()) for t in tensors]).log_softmax(-1)
                               .values().numpy())


@pytest.mark.parametrize("layout", ["strided", "jagged"])
def test_layer_norm_over_last_dim(layout):
    rng = np.random.default_rng(7)

    def fn(lib, w, b, *ts):
        nt = lib.nested.as_nested_tensor(list(ts), layout=getattr(lib, layout))
        return _padded(lib, lib.nn.functional.layer_norm(nt, (4,), w, b, eps=1e-6))

    assert_forward_and_gradients_match_torch(fn, [rng.standard_normal(4), rng.standard_normal(4), *_rows(4)])


def test_jagged_layer_norm_without_affine_and_transpose():
    def fn(lib, *ts):
        if lib is torch:  # torch.nested has no backward for padding a transposed tensor: a dense reference
            return _reference_padded([lib.nn.functional.layer_norm(t, [4]).transpose(0, 1) * 2 for t in ts])
        nt = _jagged(lib, ts)
        return _padded(lib, lib.nn.functional.layer_norm(nt, [4]).transpose(1, 2) * 2)

    assert_forward_and_gradients_match_torch(fn, _rows(4))


@pytest.mark.parametrize("reduce", ["sum_last", "sum_last_keepdim", "sum_ragged", "mean_ragged", "sum_all",
                                    "sum_middle", "strided_sum_last"])
def test_reductions(reduce):
    def fn(lib, *ts):
        if lib is torch:  # torch.nested has no backward for these reductions: a dense reference
            return reference(ts)
        nt = _jagged(lib, ts)
        if reduce == "sum_last":
            return _padded(lib, nt.sum(-1))
        if reduce == "sum_last_keepdim":
            return _padded(lib, nt.sum(dim=3, keepdim=True))
        if reduce == "sum_ragged":
            return nt.sum(1)
        if reduce == "mean_ragged":
            return nt.mean(1, keepdim=True)
        if reduce == "sum_all":
            return nt.sum()
        if reduce == "sum_middle":
            return _padded(lib, nt.sum(2))
        return _padded(lib, _strided(lib, ts).sum(-1, keepdim=True))

    def reference(ts):
        if reduce == "sum_last":
            return _reference_padded([t.sum(-1) for t in ts])
        if reduce == "sum_last_keepdim":
            return _reference_padded([t.sum(2, keepdim=True) for t in ts])
        if reduce == "sum_ragged":
            return torch.stack([t.sum(0) for t in ts])
        if reduce == "mean_ragged":
            return torch.stack([t.mean(0, keepdim=True) for t in ts])
        if reduce == "sum_all":
            return sum(t.sum() for t in ts)
        if reduce == "sum_middle":
            return _reference_padded([t.sum(1) for t in ts])
        return _reference_padded([t.sum(-1, keepdim=True) for t in ts])

    assert_forward_and_gradients_match_torch(fn, _rows(2, 3))
    # the forward values also match torch.nested's own
    tensors = [torch.tensor(a) for a in _rows(2, 3)]
    np.testing.assert_allclose(_padded(torch, _jagged(torch, tensors).sum(-1)).numpy(),
                               _padded(trainer, _jagged(trainer, [trainer.tensor(t.numpy()) for t in tensors])
                                        .sum(-1)).numpy())


# ----------------------------------------------------------------- attention
def test_scaled_dot_product_attention_self_and_cross():
    heads, dim = 2, 4

    def fn(lib, *ts):
        q = _jagged(lib, ts[:3]).transpose(1, 2)  # (B, *, H, D) -> (B, H, *, D), as PyTorch's tutorial
        k = _jagged(lib, ts[3:6]).transpose(1, 2)
        v = _jagged(lib, ts[6:]).transpose(1, 2)
        F = lib.nn.functional
        self_attention = F.scaled_dot_product_attention(q, q, q).transpose(1, 2)
        cross = F.scaled_dot_product_attention(q, k, v, scale=0.3).transpose(1, 2)
        return _padded(lib, self_attention), cross.values()

    arrays = (_rows(heads, dim) + _rows(heads, dim, lengths=(3, 1, 5), seed=1)
              + _rows(heads, dim, lengths=(3, 1, 5), seed=2))
    assert_forward_and_gradients_match_torch(fn, arrays)


def test_attention_block_with_linear_projections_matches_torch():
    """A tiny multi-head attention over ragged sequences: linear projections, SDPA, output projection."""
    rng = np.random.default_rng(9)
    heads, dim = 2, 3
    width = heads * dim

    def fn(lib, w_in, w_out, *ts):
        if lib is torch:  # torch.nested has no backward through these reshapes of values: a dense reference
            return _reference_padded([reference(w_in, w_out, t) for t in ts])
        x = _jagged(lib, ts)
        q, k, v = (lib.nn.functional.linear(x, w_in[i * width:(i + 1) * width]) for i in range(3))
        split = [t.values().reshape(-1, heads, dim) for t in (q, k, v)]
        q, k, v = (lib.nested.nested_tensor_from_jagged(s, x.offsets()).transpose(1, 2) for s in split)
        out = lib.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2)
        merged = lib.nested.nested_tensor_from_jagged(out.values().reshape(-1, width), x.offsets())
        return _padded(lib, lib.nn.functional.linear(merged, w_out))

    def reference(w_in, w_out, x):
        q, k, v = (torch.nn.functional.linear(x, w).reshape(-1, heads, dim).transpose(0, 1) for w in w_in.chunk(3))
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(-1, width)
        return torch.nn.functional.linear(out, w_out)

    assert_forward_and_gradients_match_torch(
        fn, [rng.standard_normal((3 * width, width)), rng.standard_normal((width, width)), *_rows(width)])


# ----------------------------------------------------------------- other constructors
def test_masked_select_and_narrow():
    rng = np.random.default_rng(4)
    mask = rng.random((3, 5)) < 0.5
    starts, lengths = [0, 2, 1], [2, 3, 4]

    def fn(lib, t):
        if lib is torch:  # torch pads these views to their total length and cannot pad holes: a dense reference
            return (_reference_padded([t[i][torch.tensor(mask[i])] for i in range(3)]),
                    _reference_padded([t[i, s:s + n] * 2 for i, (s, n) in enumerate(zip(starts, lengths))]))
        selected = lib.nested.masked_select(t, lib.tensor(mask))
        narrowed = lib.nested.narrow(t, 1, lib.tensor(starts), lib.tensor(lengths), layout=lib.jagged)
        return _padded(lib, selected), _padded(lib, narrowed * 2)

    assert_forward_and_gradients_match_torch(fn, [rng.standard_normal((3, 5))])
    data = rng.standard_normal((3, 5))
    theirs = torch.nested.narrow(torch.tensor(data), 1, torch.tensor(starts), torch.tensor(lengths),
                                 layout=torch.jagged)
    ours = trainer.nested.narrow(trainer.tensor(data), 1, trainer.tensor(starts), trainer.tensor(lengths),
                                 layout=trainer.jagged)
    for o, t in zip(ours.unbind(), theirs.unbind()):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    theirs = torch.nested.masked_select(torch.tensor(data), torch.tensor(mask))
    ours = trainer.nested.masked_select(trainer.tensor(data), trainer.tensor(mask))
    assert ours.offsets().tolist() == theirs.offsets().tolist()
    np.testing.assert_array_equal(ours.values().numpy(), theirs.values().numpy())


# ----------------------------------------------------------------- errors
def _jag(lib, *lengths, width=3):
    return lib.nested.nested_tensor([lib.ones(n, width) for n in lengths], layout=lib.jagged)


def _heads(lib):
    return lib.nested.nested_tensor([lib.ones(n, 2, 4) for n in (2, 3)], layout=lib.jagged).transpose(1, 2)


ERRORS = [
    ("transpose_batch_jagged", lambda lib: _jag(lib, 2, 3).transpose(0, 1), ValueError, "batch dimension"),
    ("transpose_batch_strided", lambda lib: lib.nested.nested_tensor([lib.ones(2, 3)]).transpose(0, 1),
     RuntimeError, "batch dimension"),
    ("softmax_batch", lambda lib: _jag(lib, 2, 3).softmax(0), RuntimeError, "batch dimension"),
    ("sum_batch", lambda lib: _jag(lib, 2, 3).sum(0), RuntimeError, "batch dimension"),
    ("different_structures", lambda lib: _jag(lib, 2) + _jag(lib, 3), RuntimeError, "different structures"),
    ("strided_plus_dense", lambda lib: lib.nested.nested_tensor([lib.ones(2, 3)]) + lib.ones(3), RuntimeError,
     "expected both self and other to be nested"),
    ("strided_sum_no_keepdim", lambda lib: lib.nested.nested_tensor([lib.ones(2, 3)]).sum(-1), RuntimeError,
     "keepdim=True"),
    ("strided_layer_norm_no_affine",
     lambda lib: lib.nn.functional.layer_norm(lib.nested.nested_tensor([lib.ones(2, 3)]), (3,)), ValueError,
     "needs weight and bias"),
    ("sdpa_mask", lambda lib: lib.nn.functional.scaled_dot_product_attention(
        *[_heads(lib)] * 3, attn_mask=lib.ones(1, dtype=lib.bool)), ValueError, "[Mm]asks are not"),
    ("sdpa_dense_key", lambda lib: lib.nn.functional.scaled_dot_product_attention(
        _jag(lib, 2, 3), lib.ones(2, 4, 3), lib.ones(2, 4, 3)), ValueError, "to be nested tensors"),
    ("bad_layout", lambda lib: lib.nested.nested_tensor([lib.ones(2)], layout=lib.sparse_coo), RuntimeError,
     "unsupported for nested tensors"),
    ("two_ragged_dims", lambda lib: lib.nested.nested_tensor([lib.ones(2, 3), lib.ones(3, 4)], layout=lib.jagged),
     RuntimeError, "one ragged dim"),
    ("mixed_dims", lambda lib: lib.nested.nested_tensor([lib.ones(2, 3), lib.ones(3)], layout=lib.jagged),
     RuntimeError, "same number of dims"),
    ("zero_dim_components", lambda lib: lib.nested.nested_tensor([lib.tensor(1.0)], layout=lib.jagged),
     RuntimeError, "zero-dim tensors"),
    ("from_jagged_without_offsets", lambda lib: lib.nested.nested_tensor_from_jagged(lib.ones(3, 2)), RuntimeError,
     "offsets or lengths"),
    ("dense_to_padded", lambda lib: lib.nested.to_padded_tensor(lib.ones(2), 0.0), NotImplementedError,
     "must be a nested tensor"),
    ("narrow_dim", lambda lib: lib.nested.narrow(lib.ones(2, 4), 0, 0, 1, layout=lib.jagged), RuntimeError,
     "only supports dim=1"),
]


@pytest.mark.parametrize("case", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_like_torch(case):
    _, call, error, message = case
    assert_raises_like_torch(call, error, message)


def test_unsupported_ops_name_themselves():
    nt = _jag(trainer, 2, 3)
    with pytest.raises(NotImplementedError, match="^view is not supported for nested tensors"):
        nt.view(2, -1, 3)
    with pytest.raises(NotImplementedError, match="^cumsum is not supported for nested tensors"):
        nt.cumsum(1)
    with pytest.raises(NotImplementedError, match="^exp is not supported for nested tensors"):
        trainer.exp(nt)
    with pytest.raises(RuntimeError, match="linear needs a regular one"):
        trainer.nn.functional.linear(_jag(trainer, 2, 3).transpose(1, 2), trainer.ones(2, 2))
