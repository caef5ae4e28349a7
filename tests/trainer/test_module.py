"""``Module`` and the containers against PyTorch: registration, traversal, hooks, dtype moves, state dicts, repr.

The same small models are built twice from one recipe, once on ``torch.nn`` and once on ours, so key
names, ordering, messages and printed forms can be compared directly.
"""

from collections import OrderedDict
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import trainer
from trainer.nn.modules import Module, ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from trainer.nn.parameter import Parameter

OURS = SimpleNamespace(lib=trainer, Module=Module, Parameter=Parameter, Sequential=Sequential, ModuleList=ModuleList,
                       ModuleDict=ModuleDict, ParameterList=ParameterList, ParameterDict=ParameterDict)
THEIRS = SimpleNamespace(lib=torch, Module=torch.nn.Module, Parameter=torch.nn.Parameter,
                         Sequential=torch.nn.Sequential, ModuleList=torch.nn.ModuleList, ModuleDict=torch.nn.ModuleDict,
                         ParameterList=torch.nn.ParameterList, ParameterDict=torch.nn.ParameterDict)
BOTH = pytest.mark.parametrize("nn", [OURS, THEIRS], ids=["trainer", "torch"])


def make_classes(nn):
    """Tiny layers written only with ``Module``, ``Parameter`` and buffers, for either library."""
    lib = nn.lib

    class Affine(nn.Module):
        def __init__(self, n_in, n_out, bias=True):
            super().__init__()
            self.n_in, self.n_out = n_in, n_out
            self.weight = nn.Parameter(lib.ones(n_out, n_in))
            self.bias = nn.Parameter(lib.zeros(n_out)) if bias else None
            self.register_buffer("calls", lib.zeros((), dtype=lib.int64))
            self.register_buffer("cache", lib.zeros(n_out), persistent=False)

        def forward(self, x):
            out = x @ self.weight.T
            return out if self.bias is None else out + self.bias

        def extra_repr(self):
            return f"n_in={self.n_in}, n_out={self.n_out}"

    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("factor", lib.full((1,), 2.0))

        def forward(self, x):
            return x * self.factor

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = Affine(4, 4)
            self.gain = nn.Parameter(lib.ones(4))
            self.scale = Scale()

        def forward(self, x):
            return self.scale(self.proj(x)) * self.gain

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(Affine(3, 4), Scale())
            self.blocks = nn.ModuleList([Block(), Block()])
            self.heads = nn.ModuleDict({"cls": Affine(4, 2), "box": Affine(4, 4, bias=False)})
            self.extras = nn.ParameterList([nn.Parameter(lib.zeros(2)), lib.ones(3)])
            self.table = nn.ParameterDict({"b": nn.Parameter(lib.zeros(1)), "a": lib.ones(2, 2)})
            self.temperature = nn.Parameter(lib.ones(()))

        def forward(self, x):
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            return self.heads["cls"](x)

    return SimpleNamespace(Affine=Affine, Scale=Scale, Block=Block, Net=Net)


OUR_CLASSES, THEIR_CLASSES = make_classes(OURS), make_classes(THEIRS)


def both(name, *args, **kwargs):
    """The same model built with trainer and with torch."""
    return getattr(OUR_CLASSES, name)(*args, **kwargs), getattr(THEIR_CLASSES, name)(*args, **kwargs)


def torch_spelling(text: str) -> str:
    return text.replace("trainer.", "torch.")


# --------------------------------------------------------------------- registration
def test_assigned_members_register_in_their_dicts():
    affine = OUR_CLASSES.Affine(3, 2)
    assert list(affine._parameters) == ["weight", "bias"]
    assert list(affine._buffers) == ["calls", "cache"]
    plain = trainer.zeros(2)
    affine.plain = plain
    assert affine.plain is plain and "plain" not in affine._buffers and "plain" not in affine._parameters
    assert affine.weight is affine._parameters["weight"]


@BOTH
def test_reassigning_a_name_moves_it_between_registries(nn):
    m = nn.Module()
    m.x = nn.Module()
    m.x = nn.Parameter(nn.lib.zeros(1))
    assert "x" not in m._modules and "x" in m._parameters
    m.register_buffer("y", nn.lib.zeros(1))
    m.y = nn.Module()
    assert "y" not in m._buffers and "y" in m._modules
    with pytest.raises(TypeError, match="as parameter 'x'"):
        m.x = nn.Module()


def test_plain_tensor_over_a_parameter_raises_like_torch():
    ours, theirs = both("Affine", 2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        ours.weight = trainer.zeros(2, 2)
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'weight'"):
        theirs.weight = torch.zeros(2, 2)
    ours.bias = None  # None is allowed, and keeps the name registered
    assert ours._parameters["bias"] is None and ours.bias is None


def test_assigning_a_buffer_name_keeps_it_a_buffer():
    affine = OUR_CLASSES.Affine(2, 2)
    affine.cache = trainer.ones(2)
    assert affine._buffers["cache"] is affine.cache and "cache" in affine._non_persistent_buffers_set
    with pytest.raises(TypeError, match="as buffer 'cache'"):
        affine.cache = 3.0


@pytest.mark.parametrize("member", ["parameter", "module"])
def test_assigning_before_init_says_what_to_do(member):
    class Early(Module):
        def __init__(self):
            self.w = Parameter(trainer.zeros(1)) if member == "parameter" else Module()

    with pytest.raises(AttributeError, match=f"cannot assign {member} before Module.__init__\\(\\) call"):
        Early()


def test_register_checks_names_like_torch():
    m = Module()
    m.plain = 1
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", trainer.zeros(1))
    with pytest.raises(KeyError, match="parameter name can"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="parameter 'p' \\(trainer.nn.Parameter or None required\\)"):
        m.register_parameter("p", trainer.zeros(1))
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("p", _non_leaf_parameter())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("child", 3)


def _non_leaf_parameter():
    """A Parameter carrying a graph node, which only internal code can produce."""
    source = Parameter(trainer.zeros(1))
    param = Parameter(trainer.zeros(1))
    param._grad_fn = (source * 2).grad_fn
    return param


def test_getattr_and_delattr():
    affine = OUR_CLASSES.Affine(2, 2)
    del affine.weight, affine.cache
    assert "weight" not in affine._parameters and "cache" not in affine._buffers
    assert "cache" not in affine._non_persistent_buffers_set
    with pytest.raises(AttributeError, match="'Affine' object has no attribute 'weight'"):
        _ = affine.weight
    affine.other = 1
    del affine.other
    assert not hasattr(affine, "other")


def test_register_module_and_add_module_are_the_same():
    m = Module()
    m.register_module("a", Module())
    m.add_module("b", None)
    assert list(m._modules) == ["a", "b"] and m.b is None


def test_missing_forward_raises_torch_message():
    with pytest.raises(NotImplementedError) as ours:
        Module()(1)
    with pytest.raises(NotImplementedError) as theirs:
        torch.nn.Module()(1)
    assert str(ours.value) == str(theirs.value)


def test_dir_lists_members():
    names = dir(OUR_CLASSES.Block())
    assert {"proj", "gain", "scale", "forward", "training"} <= set(names)
    assert names == sorted(names)


# --------------------------------------------------------------------- traversal
@pytest.mark.parametrize("method", ["named_parameters", "named_buffers", "named_modules", "named_children"])
def test_named_members_match_torch(method):
    ours, theirs = both("Net")
    assert [n for n, _ in getattr(ours, method)()] == [n for n, _ in getattr(theirs, method)()]


def shared_model(nn):
    """One module reachable under two names, and one parameter registered twice."""
    lib = nn.lib
    classes = make_classes(nn)
    root = nn.Module()
    shared = classes.Affine(2, 2)
    root.a = shared
    root.b = nn.Sequential(shared, classes.Scale())
    root.tied = shared.weight
    root.own = nn.Parameter(lib.zeros(1))
    return root


@BOTH
def test_shared_members_are_listed_once(nn):
    root = shared_model(nn)
    assert [n for n, _ in root.named_modules()] == ["", "a", "b", "b.1"]
    assert [n for n, _ in root.named_parameters()] == ["tied", "own", "a.bias"]
    assert len(list(root.parameters())) == 3
    assert [n for n, _ in root.named_modules(remove_duplicate=False)] == ["", "a", "b", "b.0", "b.1"]
    assert [n for n, _ in root.named_parameters(remove_duplicate=False)] == [
        "tied", "own", "a.weight", "a.bias", "b.0.weight", "b.0.bias"]


def test_shared_members_keys_match_torch():
    ours, theirs = shared_model(OURS), shared_model(THEIRS)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers(prefix="m")] == [n for n, _ in theirs.named_buffers(prefix="m")]


def test_parameters_without_recursion():
    ours, theirs = both("Block")
    assert [n for n, _ in ours.named_parameters(recurse=False)] == ["gain"]
    assert [n for n, _ in theirs.named_parameters(recurse=False)] == ["gain"]


def test_get_submodule_and_get_parameter():
    net = OUR_CLASSES.Net()
    assert net.get_submodule("blocks.1.proj") is net.blocks[1].proj
    assert net.get_submodule("") is net
    assert net.get_parameter("heads.cls.weight") is net.heads["cls"].weight
    assert net.get_buffer("stem.1.factor") is net.stem[1].factor
    with pytest.raises(AttributeError, match="ModuleList has no attribute `7`"):
        net.get_submodule("blocks.7")
    with pytest.raises(AttributeError, match="`temperature` is not an nn.Module"):
        net.get_submodule("temperature.x")
    with pytest.raises(AttributeError, match="`proj` is not an nn.Parameter"):
        net.get_parameter("blocks.0.proj")


def test_apply_visits_children_first():
    order = []
    net = OUR_CLASSES.Block()
    net.apply(lambda m: order.append(type(m).__name__))
    assert order == ["Affine", "Scale", "Block"]


# --------------------------------------------------------------------- modes and gradients
def test_train_and_eval_propagate():
    net = OUR_CLASSES.Net()
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_requires_grad_and_zero_grad():
    block = OUR_CLASSES.Block()
    out = block(trainer.ones(2, 4)).sum()
    out.backward()
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in block.parameters())
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())
    block.requires_grad_(False)
    assert not any(p.requires_grad for p in block.parameters())


# --------------------------------------------------------------------- hooks
def test_forward_hooks_replace_args_and_output_and_can_be_removed():
    scale = OUR_CLASSES.Scale()
    pre = scale.register_forward_pre_hook(lambda m, args: args[0] + 1)
    post = scale.register_forward_hook(lambda m, args, out: out * 10)
    assert scale(trainer.ones(1)).item() == 40.0
    pre.remove()
    assert scale(trainer.ones(1)).item() == 20.0
    post.remove()
    post.remove()  # removing twice is harmless
    assert scale(trainer.ones(1)).item() == 2.0


def test_hooks_with_kwargs_and_prepend():
    class Add(Module):
        def forward(self, x, *, y=0):
            return x + y

    add, calls = Add(), []
    add.register_forward_pre_hook(lambda m, args, kwargs: (args, {"y": 5}), with_kwargs=True)
    add.register_forward_hook(lambda m, args, kwargs, out: calls.append(("post", kwargs)), with_kwargs=True)
    add.register_forward_pre_hook(lambda m, args: calls.append("first"), prepend=True)
    assert add(1) == 6
    assert calls == ["first", ("post", {"y": 5})]


def test_hooks_see_module_paths_of_nested_calls():
    """The exporter's use: pre/post hooks on every named module give the module path of each call."""
    net, stack, seen = OUR_CLASSES.Net(), [], []
    handles = []
    for path, module in net.named_modules():
        handles.append(module.register_forward_pre_hook(lambda m, args, path=path: stack.append(path)))
        handles.append(module.register_forward_hook(lambda m, args, out: seen.append(stack.pop())))
    net(trainer.ones(1, 3))
    assert seen[:3] == ["stem.0", "stem.1", "stem"] and seen[-2:] == ["heads.cls", ""]
    for handle in handles:
        handle.remove()
    seen.clear()
    net(trainer.ones(1, 3))
    assert seen == []


def test_handle_works_as_context_manager():
    scale = OUR_CLASSES.Scale()
    with scale.register_forward_hook(lambda m, args, out: out * 0):
        assert scale(trainer.ones(1)).item() == 0.0
    assert scale(trainer.ones(1)).item() == 2.0


# --------------------------------------------------------------------- dtype and device
def test_to_dtype_keeps_parameter_identity_and_converts_grads():
    net = OUR_CLASSES.Block()
    params_before = list(net.parameters())
    net(trainer.ones(1, 4)).sum().backward()
    assert net.to(trainer.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params_before]
    assert all(p.dtype == trainer.float64 and p.grad.dtype == trainer.float64 for p in net.parameters())
    assert net.proj.calls.dtype == trainer.int64  # integer buffers keep their dtype
    assert net.scale.factor.dtype == trainer.float64
    assert all(p.requires_grad and isinstance(p, Parameter) for p in net.parameters())


def test_optimizer_made_before_to_still_updates_the_model():
    net = OUR_CLASSES.Affine(2, 2)
    params = list(net.parameters())  # what an optimizer would hold
    net.double()
    with trainer.no_grad():
        params[0].sub_(1.0)
    assert net.weight.dtype == trainer.float64 and (net.weight._data == 0).all()


def test_float_half_type_and_bad_dtype():
    net = OUR_CLASSES.Affine(2, 2)
    assert net.half().weight.dtype == trainer.float16
    assert net.float().weight.dtype == trainer.float32
    assert net.calls.dtype == trainer.int64
    net.type(trainer.float64)
    assert net.calls.dtype == trainer.float64  # type() converts every tensor, like torch
    with pytest.raises(TypeError, match="only accepts floating point"):
        net.to(trainer.int32)
    assert net.to("cpu", trainer.float32).weight.dtype == trainer.float32
    assert net.cpu().weight.device == trainer.device("cpu")


@pytest.mark.cuda
def test_cuda_round_trip_keeps_identity():
    net = OUR_CLASSES.Affine(2, 2)
    weight = net.weight
    net.cuda()
    assert net.weight is weight and weight.device.type == "cuda" and net.calls.device.type == "cuda"
    out = net(trainer.ones(1, 2, device="cuda"))
    assert out.device.type == "cuda"
    net.load_state_dict({k: v.cpu().numpy() for k, v in net.state_dict().items()})
    assert net.cpu().weight.device.type == "cpu"


# --------------------------------------------------------------------- state dict
def test_state_dict_keys_match_torch():
    ours, theirs = both("Net")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "heads.box.bias" not in ours.state_dict()  # a None parameter is skipped
    assert "stem.0.cache" not in ours.state_dict()  # a non-persistent buffer is skipped


def test_state_dict_values_are_detached_and_share_memory():
    net = OUR_CLASSES.Affine(2, 2)
    state = net.state_dict()
    assert isinstance(state, OrderedDict)
    weight = state["weight"]
    assert not weight.requires_grad and not isinstance(weight, Parameter)
    assert weight._data is net.weight._data
    assert net.state_dict(keep_vars=True)["weight"] is net.weight
    assert list(net.state_dict(prefix="m.")) == ["m.weight", "m.bias", "m.calls"]


def test_load_state_dict_copies_in_place():
    source, target = OUR_CLASSES.Affine(2, 2), OUR_CLASSES.Affine(2, 2)
    source.weight.data.fill_(3.0)
    array, version = target.weight._data, target.weight._version
    assert repr(target.load_state_dict(source.state_dict())) == "<All keys matched successfully>"
    assert target.weight._data is array and (array == 3.0).all()
    assert target.weight._version == version + 1
    assert target.weight.requires_grad


def test_load_state_dict_from_torch_numpy_arrays_keeps_target_dtype():
    ours, theirs = both("Net")
    for p in theirs.parameters():
        torch.nn.init.normal_(p)
    state = {k: v.detach().numpy().astype(np.float64) for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in ours.state_dict().items():
        assert value.dtype == (trainer.int64 if key.endswith("calls") else trainer.float32)
        np.testing.assert_allclose(value.numpy(), theirs.state_dict()[key].numpy(), rtol=1e-6)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(trainer.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def strict_failure(model, state):
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    return str(info.value)


def test_strict_missing_and_unexpected_message_matches_torch():
    ours, theirs = both("Block")
    our_state = ours.state_dict()
    their_state = theirs.state_dict()
    for state in (our_state, their_state):
        del state["proj.bias"], state["scale.factor"]
        state["x"] = state["gain"]
        state["proj.extra"] = state["gain"]
        state["nothere.w"] = state["gain"]
    message = strict_failure(ours, our_state)
    assert message == strict_failure(theirs, their_state)
    assert message == (
        'Error(s) in loading state_dict for Block:\n\tMissing key(s) in state_dict: "proj.bias", "scale.factor". '
        '\n\tUnexpected key(s) in state_dict: "x", "nothere.w", "proj.extra". ')


def test_size_mismatch_raises_even_when_not_strict():
    ours, theirs = both("Affine", 4, 3)
    their_error = torch_spelling(strict_failure(theirs, {**theirs.state_dict(), "weight": torch.zeros(5, 4)}))
    state = {**ours.state_dict(), "weight": trainer.zeros(5, 4)}
    expected = ("Error(s) in loading state_dict for Affine:\n\tsize mismatch for weight: copying a param with shape "
                "[5, 4] from checkpoint, the shape in current model is [3, 4].")
    assert strict_failure(ours, state) == expected
    assert their_error == expected.replace("[5, 4]", "torch.Size([5, 4])").replace("[3, 4]", "torch.Size([3, 4])")
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        ours.load_state_dict(state, strict=False)


def test_non_strict_returns_keys_like_torch():
    ours, theirs = both("Block")
    our_state, their_state = ours.state_dict(), theirs.state_dict()
    for state in (our_state, their_state):
        del state["gain"]
        state["extra.w"] = state["proj.weight"]
    our_result = ours.load_state_dict(our_state, strict=False)
    their_result = theirs.load_state_dict(their_state, strict=False)
    assert our_result == (["gain"], ["extra.w"])
    assert tuple(our_result) == tuple(their_result)
    assert repr(our_result) == repr(their_result)


def test_load_rejects_values_that_are_not_tensors():
    net = OUR_CLASSES.Scale()
    with pytest.raises(RuntimeError, match='While copying the parameter named "factor", expected a trainer.Tensor'):
        net.load_state_dict({"factor": [2.0]})
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([("factor", trainer.ones(1))])


def test_load_with_assign_replaces_members():
    net = OUR_CLASSES.Affine(2, 2)
    weight = trainer.full((2, 2), 7.0, dtype=trainer.float64)
    net.load_state_dict({**net.state_dict(), "weight": weight}, assign=True)
    assert isinstance(net.weight, Parameter) and net.weight.requires_grad
    assert net.weight.dtype == trainer.float64 and net.weight._data is weight._data
    assert net.state_dict()["weight"]._data is weight._data


# --------------------------------------------------------------------- repr
def test_repr_matches_torch():
    ours, theirs = both("Net")
    # ParameterDict prints torch's legacy type names (torch.FloatTensor), the one place the texts differ
    del ours.table, theirs.table
    assert torch_spelling(repr(ours)) == repr(theirs)
    assert repr(Module()) == "Module()"
    assert repr(OUR_CLASSES.Affine(1, 2)) == "Affine(n_in=1, n_out=2)"


def test_repr_of_multiline_extra_repr_and_children():
    class Verbose(Module):
        def __init__(self):
            super().__init__()
            self.inner = OUR_CLASSES.Scale()

        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(Verbose()) == "Verbose(\n  a=1\n  b=2\n  (inner): Scale()\n)"


def test_parameter_containers_repr():
    ours = ParameterList([Parameter(trainer.zeros(3, 4))])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(3, 4))])
    assert torch_spelling(repr(ours)) == repr(theirs)
    ours.append(trainer.zeros(2))
    theirs.append(torch.zeros(2))
    assert torch_spelling(repr(ours)) == repr(theirs)
    table = ParameterDict({"b": trainer.zeros(1), "a": Parameter(trainer.zeros(2, 2))})
    assert repr(table) == ("ParameterDict(\n    (a): Parameter containing: [trainer.float32 of size 2x2]\n"
                           "    (b): Parameter containing: [trainer.float32 of size 1]\n)")


# --------------------------------------------------------------------- containers
@BOTH
def test_sequential_indexing_and_editing(nn):
    classes = make_classes(nn)
    a, b, c = classes.Affine(2, 2), classes.Scale(), classes.Affine(2, 3)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == [b, c] and list(tail._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    d = classes.Scale()
    seq.insert(1, d)
    assert list(seq) == [a, d, b, c]
    del seq[1]
    assert list(seq) == [a, b, c] and list(seq._modules) == ["0", "1", "2"]
    seq.append(d).extend([classes.Scale()])
    assert len(seq) == 5
    del seq[3:]
    assert list(seq) == [a, b, c]
    seq[1] = d
    assert seq[1] is d
    assert seq.pop(1) is d and list(seq) == [a, c]
    assert list(seq + nn.Sequential(b)) == [a, c, b]
    assert list(seq * 2) == [a, c, a, c]


def test_sequential_forward_chains_and_ordered_dict_names():
    seq = Sequential(OrderedDict([("first", OUR_CLASSES.Affine(2, 3)), ("twice", OUR_CLASSES.Scale())]))
    out = seq(trainer.ones(1, 2))
    assert out.detach().tolist() == [[4.0, 4.0, 4.0]]
    assert seq.first is seq[0]
    assert list(seq.state_dict()) == ["first.weight", "first.bias", "first.calls", "twice.factor"]


def test_sequential_state_dict_and_repr_match_torch():
    ours = Sequential(OUR_CLASSES.Affine(2, 3), OUR_CLASSES.Scale(), Sequential(OUR_CLASSES.Scale()))
    theirs = torch.nn.Sequential(THEIR_CLASSES.Affine(2, 3), THEIR_CLASSES.Scale(),
                                 torch.nn.Sequential(THEIR_CLASSES.Scale()))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert repr(ours[1:]) == repr(theirs[1:])


@BOTH
def test_module_list_operations(nn):
    classes = make_classes(nn)
    items = [classes.Scale() for _ in range(4)]
    layers = nn.ModuleList(items[:2])
    layers += [items[2]]
    layers.append(items[3])
    assert len(layers) == 4 and list(layers) == items and layers[-1] is items[3]
    assert isinstance(layers[1:3], nn.ModuleList) and list(layers[1:3]) == items[1:3]
    assert list(layers[1:3]._modules) == ["0", "1"]
    extra = classes.Scale()
    layers.insert(1, extra)
    assert list(layers) == [items[0], extra, *items[1:]]
    del layers[1]
    assert list(layers) == items and list(layers._modules) == ["0", "1", "2", "3"]
    layers[0] = extra
    assert layers[0] is extra
    with pytest.raises(IndexError):
        layers[4]
    with pytest.raises(NotImplementedError):
        layers(1)


def test_module_list_repr_compresses_repeats_like_torch():
    ours = ModuleList([OUR_CLASSES.Affine(2, 2), OUR_CLASSES.Affine(2, 2), OUR_CLASSES.Scale(), OUR_CLASSES.Block()])
    theirs = torch.nn.ModuleList([THEIR_CLASSES.Affine(2, 2), THEIR_CLASSES.Affine(2, 2), THEIR_CLASSES.Scale(),
                                  THEIR_CLASSES.Block()])
    assert repr(ours) == repr(theirs)
    assert repr(ModuleList()) == repr(torch.nn.ModuleList()) == "ModuleList()"


@BOTH
def test_module_dict_mapping_api(nn):
    classes = make_classes(nn)
    first, second = classes.Scale(), classes.Affine(2, 2)
    table = nn.ModuleDict([("first", first)])
    table["second"] = second
    assert list(table) == ["first", "second"] and len(table) == 2 and "first" in table
    assert list(table.keys()) == ["first", "second"] and list(table.values()) == [first, second]
    assert dict(table.items()) == {"first": first, "second": second}
    assert table.pop("first") is first and list(table) == ["second"]
    table.update({"z": first, "a": first})
    assert list(table) == ["second", "z", "a"]
    del table["z"]
    table.clear()
    assert len(table) == 0


def test_module_dict_state_dict_matches_torch():
    ours = ModuleDict({"z": OUR_CLASSES.Affine(1, 1), "a": OUR_CLASSES.Scale()})
    theirs = torch.nn.ModuleDict({"z": THEIR_CLASSES.Affine(1, 1), "a": THEIR_CLASSES.Scale()})
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["z.weight", "z.bias", "z.calls", "a.factor"]
    assert repr(ours) == repr(theirs)


def test_parameter_list_wraps_tensors_and_indexes():
    plist = ParameterList([trainer.zeros(2), Parameter(trainer.ones(3))])
    assert all(isinstance(p, Parameter) for p in plist) and len(plist) == 2
    assert plist[-1].shape == (3,) and isinstance(plist[:1], ParameterList) and len(plist[:1]) == 1
    plist[0] = trainer.ones(4)
    assert isinstance(plist[0], Parameter) and plist[0].shape == (4,)
    assert [n for n, _ in plist.named_parameters()] == ["0", "1"]
    with pytest.raises(TypeError, match="iterable"):
        plist.extend(trainer.zeros(3))
    with pytest.raises(RuntimeError, match="should not be called"):
        plist()


def test_parameter_dict_mapping_api_and_order_like_torch():
    ours = ParameterDict({"b": trainer.zeros(1), "a": trainer.zeros(2)})
    theirs = torch.nn.ParameterDict({"b": torch.zeros(1), "a": torch.zeros(2)})
    assert list(ours) == list(theirs) == ["a", "b"]  # a plain dict is sorted, as in PyTorch
    ours["c"] = trainer.ones(1)
    assert isinstance(ours["c"], Parameter) and "c" in ours and len(ours) == 3
    assert ours.get("zz") is None and ours.setdefault("d", trainer.ones(1)) is ours["d"]
    key, value = ours.popitem()
    assert key == "d" and isinstance(value, Parameter) and "d" not in ours
    assert list((ours | ParameterDict({"e": trainer.ones(1)})).keys()) == ["a", "b", "c", "e"]
    assert [n for n, _ in ours.named_parameters()] == ["a", "b", "c"]
    assert list(ours.fromkeys(["x", "y"], trainer.ones(1))) == ["x", "y"]
    del ours["a"]
    assert list(ours) == ["b", "c"] and not hasattr(ours, "a")
    with pytest.raises(TypeError, match="not a string"):
        ours[1]
