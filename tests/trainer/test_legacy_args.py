"""The arguments older PyTorch programs still pass, against PyTorch itself.

Losses: the deprecated ``size_average``/``reduce`` on every loss function and module (values, gradients, the
deprecation warning, the positional order of the arguments). Optimizers: ``foreach``, ``fused``, ``capturable``,
``differentiable`` and ``maximize`` where PyTorch's optimizer has them, ``state_dict()['param_groups']`` keys, and
the combinations PyTorch refuses.
"""

import inspect
import warnings
import zlib

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

LEGACY_MESSAGE = r"size_average and reduce args will be deprecated, please use reduction='{}' instead\."

# (size_average, reduce) and the reduction PyTorch maps them to; reduction='sum' is passed too, to show they win
LEGACY = [((False, None), "sum"), ((None, False), "none"), ((True, None), "mean"), ((True, False), "none"),
          ((False, True), "sum"), ((True, True), "mean")]


def _arrays(name, *shapes, positive=False):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return [rng.uniform(0.1, 0.9, shape) if positive else rng.standard_normal(shape) for shape in shapes]


def _signs(lib, n):
    return lib.tensor([1.0, -1.0, 1.0, -1.0, -1.0][:n], dtype=lib.float64)


# name -> (fn(lib, legacy_kwargs, *inputs), input arrays); targets are built inside fn from the same numbers
LOSSES = {
    "mse_loss": (lambda lib, kw, a, b: lib.nn.functional.mse_loss(a, b, **kw), _arrays("mse", (3, 4), (3, 4))),
    "l1_loss": (lambda lib, kw, a, b: lib.nn.functional.l1_loss(a, b, **kw), _arrays("l1", (3, 4), (3, 4))),
    "smooth_l1_loss": (lambda lib, kw, a, b: lib.nn.functional.smooth_l1_loss(a, b, beta=0.5, **kw),
                       _arrays("smooth", (3, 4), (3, 4))),
    "nll_loss": (lambda lib, kw, x: lib.nn.functional.nll_loss(x.log_softmax(1), lib.tensor([0, 2, 1, 2]),
                                                                ignore_index=1, **kw), _arrays("nll", (4, 3))),
    "cross_entropy": (lambda lib, kw, x, w: lib.nn.functional.cross_entropy(
        x, lib.tensor([0, 2, 1, 2]), w.exp().detach(), label_smoothing=0.1, **kw),
                      _arrays("ce", (4, 3), (3,))),
    "binary_cross_entropy": (lambda lib, kw, p, t: lib.nn.functional.binary_cross_entropy(p, t.detach(), **kw),
                             _arrays("bce", (3, 4), (3, 4), positive=True)),
    "binary_cross_entropy_with_logits": (
        lambda lib, kw, x, t: lib.nn.functional.binary_cross_entropy_with_logits(
            x, t.detach(), pos_weight=lib.tensor([1.0, 2.0, 0.5, 3.0], dtype=lib.float64), **kw),
        _arrays("bcel", (3, 4), (3, 4), positive=True)),
    "kl_div": (lambda lib, kw, x, t: lib.nn.functional.kl_div(x.log_softmax(1), t.softmax(1), **kw),
               _arrays("kl", (3, 4), (3, 4))),
    "margin_ranking_loss": (lambda lib, kw, a, b: lib.nn.functional.margin_ranking_loss(a, b, _signs(lib, 5), 0.2,
                                                                                        **kw),
                            _arrays("mrl", (5,), (5,))),
    "cosine_embedding_loss": (lambda lib, kw, a, b: lib.nn.functional.cosine_embedding_loss(a, b, _signs(lib, 4),
                                                                                            0.1, **kw),
                              _arrays("cel", (4, 3), (4, 3))),
    "triplet_margin_loss": (lambda lib, kw, a, p, n: lib.nn.functional.triplet_margin_loss(a, p, n, swap=True, **kw),
                            _arrays("tml", (4, 3), (4, 3), (4, 3))),
    "soft_margin_loss": (lambda lib, kw, x: lib.nn.functional.soft_margin_loss(x, _signs(lib, 4), **kw),
                         _arrays("sml", (4,))),
    "hinge_embedding_loss": (lambda lib, kw, x: lib.nn.functional.hinge_embedding_loss(x, _signs(lib, 4), 0.5,
                                                                                       **kw),
                             _arrays("hel", (4,))),
    "poisson_nll_loss": (lambda lib, kw, x, t: lib.nn.functional.poisson_nll_loss(x, t.detach() * 3, full=True,
                                                                                  **kw),
                         _arrays("pnl", (3, 4), (3, 4), positive=True)),
    "multilabel_soft_margin_loss": (
        lambda lib, kw, x, w: lib.nn.functional.multilabel_soft_margin_loss(
            x, lib.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=lib.float64), w.exp().detach(), **kw),
        _arrays("mlsm", (2, 3), (3,))),
    "multi_margin_loss": (lambda lib, kw, x: lib.nn.functional.multi_margin_loss(x, lib.tensor([2, 0, 1]), p=2,
                                                                                 **kw),
                          _arrays("mm", (3, 4))),
    "multilabel_margin_loss": (lambda lib, kw, x: lib.nn.functional.multilabel_margin_loss(
        x, lib.tensor([[3, 0, -1, 1], [1, 2, 3, -1]]), **kw), _arrays("mlm", (2, 4))),
}


@pytest.mark.parametrize("legacy,expected", LEGACY, ids=[f"{s}-{r}" for (s, r), _ in LEGACY])
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_function_maps_size_average_and_reduce_like_torch(name, legacy, expected):
    fn, arrays = LOSSES[name]
    size_average, reduce = legacy
    kwargs = {"reduction": "sum"}
    if size_average is not None:
        kwargs["size_average"] = size_average
    if reduce is not None:
        kwargs["reduce"] = reduce
    with pytest.warns(UserWarning, match=LEGACY_MESSAGE.format(expected)):
        assert_forward_and_gradients_match_torch(lambda lib, *xs: fn(lib, kwargs, *xs), arrays)
    # the legacy arguments give exactly what that reduction gives
    ours = [trainer.tensor(a) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        legacy, plain = fn(trainer, kwargs, *ours), fn(trainer, {"reduction": expected}, *ours)
    np.testing.assert_array_equal(legacy.detach().numpy(), plain.detach().numpy())


def test_loss_without_legacy_arguments_does_not_warn():
    x, t = trainer.randn(3, 4), trainer.randn(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer.nn.functional.mse_loss(x, t, reduction="sum")
        trainer.nn.MSELoss(reduction="none")(x, t)


def test_kl_div_batchmean_with_legacy_arguments_divides_the_legacy_reduction_like_torch():
    # PyTorch quirk: the legacy reduction wins, yet 'batchmean' still divides the result by the batch size
    fn, arrays = LOSSES["kl_div"]
    for legacy in ({"size_average": False}, {"reduce": True}):
        with pytest.warns(UserWarning):
            assert_forward_and_gradients_match_torch(
                lambda lib, *xs, legacy=legacy: fn(lib, {**legacy, "reduction": "batchmean"}, *xs), arrays)


def test_legacy_arguments_skip_the_check_of_the_overridden_reduction_like_torch():
    # the overridden ``reduction`` is never read, so a wrong one passes in both libraries
    x, t = np.ones((2, 3)), np.zeros((2, 3))
    with pytest.warns(UserWarning):
        theirs = torch.nn.functional.mse_loss(torch.tensor(x), torch.tensor(t), size_average=False, reduction="bad")
        ours = trainer.nn.functional.mse_loss(trainer.tensor(x), trainer.tensor(t), size_average=False,
                                              reduction="bad")
    assert ours.item() == theirs.item() == 6.0
    assert_raises_like_torch(lambda lib: lib.nn.functional.mse_loss(lib.ones(2), lib.ones(2), reduction="bad"),
                             ValueError, "bad is not a valid value for reduction")


def test_nll_loss_positional_size_average_like_the_spatial_transformer_tutorial():
    output, target = np.log(np.full((4, 3), 1 / 3)), [0, 1, 2, 0]
    with pytest.warns(UserWarning, match=LEGACY_MESSAGE.format("sum")):
        ours = trainer.nn.functional.nll_loss(trainer.tensor(output), trainer.tensor(target), None, False)
    assert ours.item() == pytest.approx(4 * np.log(3))


def _loss_functions():
    functional = torch.nn.functional
    return sorted(name for name in dir(functional) if name.endswith("_loss") or name in ("cross_entropy", "kl_div",
                                                                                       "binary_cross_entropy",
                                                                                       "binary_cross_entropy_with_logits"))


def _parameters(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", [n for n in _loss_functions() if hasattr(trainer.nn.functional, n)])
def test_loss_function_signatures_keep_torchs_positional_order(name):
    theirs = [p for p in _parameters(getattr(torch.nn.functional, name)) if p[0] != "weight" or "weight" in
              inspect.signature(getattr(trainer.nn.functional, name)).parameters]
    assert _parameters(getattr(trainer.nn.functional, name)) == theirs


def _loss_modules():
    return sorted(name for name in dir(torch.nn) if name.endswith("Loss") and hasattr(trainer.nn, name)
                  and "reduction" in inspect.signature(getattr(torch.nn, name)).parameters)


@pytest.mark.parametrize("name", _loss_modules())
def test_loss_module_signatures_keep_torchs_positional_order(name):
    assert _parameters(getattr(trainer.nn, name)) == _parameters(getattr(torch.nn, name))


MODULE_ARGS = {"MultiMarginLoss": {"p": 2}, "TripletMarginLoss": {"margin": 0.5}}


@pytest.mark.parametrize("legacy,expected", LEGACY, ids=[f"{s}-{r}" for (s, r), _ in LEGACY])
@pytest.mark.parametrize("name", [n for n in _loss_modules()
                                  if "size_average" in inspect.signature(getattr(torch.nn, n)).parameters])
def test_loss_module_maps_size_average_and_reduce_like_torch(name, legacy, expected):
    size_average, reduce = legacy
    kwargs = {**MODULE_ARGS.get(name, {}), "size_average": size_average, "reduce": reduce, "reduction": "sum"}
    with pytest.warns(UserWarning, match=LEGACY_MESSAGE.format(expected)):
        theirs = getattr(torch.nn, name)(**kwargs)
    with pytest.warns(UserWarning, match=LEGACY_MESSAGE.format(expected)):
        ours = getattr(trainer.nn, name)(**kwargs)
    assert ours.reduction == theirs.reduction == expected


@pytest.mark.parametrize("legacy,expected", LEGACY[:3], ids=[f"{s}-{r}" for (s, r), _ in LEGACY[:3]])
def test_loss_modules_forward_with_legacy_reduction_like_torch(legacy, expected):
    size_average, reduce = legacy

    def fn(lib, x, p, t):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nll = lib.nn.NLLLoss(lib.tensor([1.0, 2.0, 0.5], dtype=lib.float64), size_average, 0, reduce)
            bce = lib.nn.BCELoss(None, size_average, reduce)
            mse = lib.nn.MSELoss(size_average, reduce)
            poisson = lib.nn.PoissonNLLLoss(True, True, size_average, 1e-8, reduce)
        return (nll(x.log_softmax(1), lib.tensor([0, 2, 1, 2])), bce(p, t.detach()), mse(x, t[:, :3]),
                poisson(x, t[:, :3].detach() * 4))

    assert_forward_and_gradients_match_torch(fn, _arrays("modules", (4, 3), (4, 5), (4, 5), positive=True))


def test_nll_loss_2d_is_the_deprecated_nll_loss_like_torch():
    assert _parameters(trainer.nn.NLLLoss2d.__init__) == _parameters(torch.nn.NLLLoss2d.__init__)

    def fn(lib, x):
        with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
            with pytest.warns(UserWarning, match=LEGACY_MESSAGE.format("none")):
                loss = lib.nn.NLLLoss2d(None, None, 1, False)
        assert loss.reduction == "none"
        return loss(x.log_softmax(1), lib.tensor([[[0, 2], [1, 1]], [[2, 2], [0, 1]]]))

    assert_forward_and_gradients_match_torch(fn, _arrays("nll2d", (2, 3, 2, 2)))


def test_reduction_module_matches_torchs():
    from trainer.nn import _reduction

    for legacy, expected in LEGACY:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert _reduction.legacy_get_string(*legacy) == torch.nn._reduction.legacy_get_string(*legacy) == expected
            assert _reduction.legacy_get_enum(*legacy) == torch.nn._reduction.legacy_get_enum(*legacy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _reduction.legacy_get_string(False, None, emit_warning=False) == "sum"
    with pytest.warns(UserWarning, match="elementwise_mean"):
        assert _reduction.get_enum("elementwise_mean") == 1
    assert [_reduction.get_enum(r) for r in ("none", "mean", "sum")] == [0, 1, 2]
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        _reduction.get_enum("bogus")


# ---------------------------------------------------------------- optimizers
OPTIMIZERS = ["ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "Muon", "NAdam",
              "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam"]
FUSED = ["Adagrad", "Adam", "AdamW", "SGD"]


def _params(lib, dtype=None):
    return [lib.nn.Parameter(lib.ones(2, 2, dtype=dtype or lib.float64))]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_signature_and_param_group_keys_match_torch(name):
    theirs_cls, ours_cls = getattr(torch.optim, name), getattr(trainer.optim, name)
    assert _parameters(ours_cls) == _parameters(theirs_cls)
    theirs, ours = theirs_cls(_params(torch), lr=0.1), ours_cls(_params(trainer), lr=0.1)
    assert list(ours.state_dict()["param_groups"][0]) == list(theirs.state_dict()["param_groups"][0])
    assert ours.defaults == theirs.defaults


def _flag_names(name):
    return [f for f in ("foreach", "fused", "capturable", "differentiable", "maximize")
            if f in inspect.signature(getattr(torch.optim, name)).parameters]


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if n not in ("LBFGS", "Muon")])
def test_optimizer_flags_are_kept_in_defaults_and_param_groups(name):
    flags = {"foreach": False, "fused": True, "maximize": True}
    kwargs = {f: flags[f] for f in _flag_names(name) if f in flags}
    theirs = getattr(torch.optim, name)(_params(torch), lr=0.1, **kwargs)
    ours = getattr(trainer.optim, name)(_params(trainer), lr=0.1, **kwargs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]
    assert ours.param_groups[0]["maximize"] is theirs.param_groups[0]["maximize"] is True


STEP_CASES = [("SGD", {"momentum": 0.9}), ("Adam", {"amsgrad": True}), ("AdamW", {}), ("Adagrad", {"lr_decay": 0.1})]


@pytest.mark.parametrize("flags", [{"fused": True}, {"foreach": True}, {"fused": True, "maximize": True},
                                   {"foreach": False, "maximize": True}], ids=str)
@pytest.mark.parametrize("name,options", STEP_CASES, ids=[c[0] for c in STEP_CASES])
def test_fused_and_foreach_steps_follow_torch(name, options, flags):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    start, grads = rng.standard_normal((3, 4)), rng.standard_normal((3, 3, 4))
    results = []
    for lib in (torch, trainer):
        param = lib.nn.Parameter(lib.tensor(start))
        optimizer = getattr(lib.optim, name)([param], lr=0.1, **options, **flags)
        for grad in grads:
            param.grad = lib.tensor(grad)
            optimizer.step()
        results.append(param.detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", FUSED)
def test_fused_and_foreach_together_raise_like_torch(name):
    assert_raises_like_torch(lambda lib: getattr(lib.optim, name)(_params(lib), lr=0.1, fused=True, foreach=True),
                             RuntimeError, "`fused` and `foreach` cannot be `True` together")
    assert_raises_like_torch(lambda lib: getattr(lib.optim, name)(_params(lib), lr=0.1, fused=True,
                                                                  differentiable=True),
                             RuntimeError, "`fused` does not support `differentiable`")


@pytest.mark.parametrize("name", ["RMSprop", "Adamax", "NAdam", "Rprop", "LBFGS"])
def test_fused_on_an_optimizer_without_a_fused_implementation_raises_like_torch(name):
    assert_raises_like_torch(lambda lib: getattr(lib.optim, name)(_params(lib), fused=True), TypeError, "fused")


@pytest.mark.parametrize("name", FUSED)
def test_fused_on_complex_params_raises_at_step_like_torch(name):
    def step(lib):
        param = lib.nn.Parameter(lib.ones(2, dtype=lib.complex128))
        optimizer = getattr(lib.optim, name)([param], lr=0.1, fused=True)
        param.grad = lib.ones(2, dtype=lib.complex128)
        optimizer.step()

    assert_raises_like_torch(step, RuntimeError, r"`fused=True` requires all the params to be floating point")


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if "capturable" in _flag_names(n)])
def test_capturable_on_cpu_params_raises_at_step_like_torch(name):
    def step(lib):
        param = _params(lib)[0]
        optimizer = getattr(lib.optim, name)([param], lr=0.1, capturable=True)
        param.grad = lib.ones(2, 2, dtype=lib.float64)
        optimizer.step()

    assert_raises_like_torch(step, AssertionError, r"If capturable=True, params and state_steps must be on supported")


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if "differentiable" in _flag_names(n)])
def test_differentiable_is_refused_with_a_clear_error(name):
    with pytest.raises(NotImplementedError, match="differentiable=True is not supported"):
        getattr(trainer.optim, name)(_params(trainer), lr=0.1, differentiable=True)
    param_group = {"params": _params(trainer), "differentiable": True}
    with pytest.raises(NotImplementedError, match="differentiable=True is not supported"):
        getattr(trainer.optim, name)([param_group], lr=0.1)


def test_rmsprop_and_asgd_take_torchs_positional_flags():
    # RMSprop(params, lr, alpha, eps, weight_decay, momentum, centered, capturable, foreach, maximize)
    theirs = torch.optim.RMSprop(_params(torch), 0.1, 0.9, 1e-8, 0, 0, False, False, True, True)
    ours = trainer.optim.RMSprop(_params(trainer), 0.1, 0.9, 1e-8, 0, 0, False, False, True, True)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]
    # ASGD(params, lr, lambd, alpha, t0, weight_decay, foreach, maximize)
    theirs = torch.optim.ASGD(_params(torch), 0.1, 1e-4, 0.75, 1e6, 0, False, True)
    ours = trainer.optim.ASGD(_params(trainer), 0.1, 1e-4, 0.75, 1e6, 0, False, True)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


def test_state_dict_with_flags_round_trips_from_torch():
    theirs = torch.optim.Adam(_params(torch), lr=0.1, fused=True, maximize=True)
    ours = trainer.optim.Adam(_params(trainer), lr=0.1)
    ours.load_state_dict(theirs.state_dict())
    assert ours.param_groups[0]["fused"] is True and ours.param_groups[0]["maximize"] is True
    # a state dict saved before these options existed takes the defaults
    older = trainer.optim.SGD(_params(trainer), lr=0.1).state_dict()
    for key in ("foreach", "fused", "differentiable"):
        del older["param_groups"][0][key]
    restored = trainer.optim.SGD(_params(trainer), lr=0.1, foreach=True)
    restored.load_state_dict(older)
    assert restored.param_groups[0]["foreach"] is True and restored.param_groups[0]["fused"] is None


@pytest.mark.cuda
@pytest.mark.parametrize("name,flags", [("Adam", {"fused": True}), ("AdamW", {"capturable": True}),
                                        ("SGD", {"fused": True, "momentum": 0.9}), ("RMSprop", {"capturable": True})],
                         ids=["Adam-fused", "AdamW-capturable", "SGD-fused", "RMSprop-capturable"])
def test_fused_and_capturable_on_cuda_step_like_cpu(name, flags):
    rng = np.random.default_rng(3)
    start, grads = rng.standard_normal((3, 4)), rng.standard_normal((3, 3, 4))
    results = []
    for device, options in (("cpu", {k: v for k, v in flags.items() if k == "momentum"}), ("cuda", flags)):
        param = trainer.nn.Parameter(trainer.tensor(start, device=device))
        optimizer = getattr(trainer.optim, name)([param], lr=0.1, **options)
        for grad in grads:
            param.grad = trainer.tensor(grad, device=device)
            optimizer.step()
        results.append(param.detach().cpu().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-12)
