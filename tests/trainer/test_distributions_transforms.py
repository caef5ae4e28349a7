"""``trainer.distributions.transforms``, ``constraint_registry`` and ``TransformedDistribution`` against PyTorch:
forward and inverse maps, log-|Jacobians| and their gradients in float64, shapes, domains, caching, and the
transforms ``biject_to`` / ``transform_to`` pick for each constraint."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch


def _d(lib):
    return lib.distributions


def _t(lib, data):
    return lib.tensor(data, dtype=lib.float64)


def _through(make):
    """(t(x), t.inv(t(x)), log|dt/dx|) for ``make(lib, *params)`` applied to the last array; no log-Jacobian for
    transforms that are not bijective."""
    def fn(lib, *arrays):
        t = make(lib, *arrays[:-1])
        x = arrays[-1]
        y = t(x)
        return (y, t.inv(y), t.log_abs_det_jacobian(x, y)) if t.bijective else (y, t.inv(y))
    return fn


X = np.array([[0.3, -1.2, 2.0], [1.5, 0.1, -0.7]])
POS = np.array([[0.3, 1.2, 2.0], [1.5, 0.1, 0.7]])
CORR_VEC = np.array([[0.3, -1.2, 0.5], [1.5, 0.1, -0.7]])

# name -> (make(lib, *params) -> transform, arrays: params..., x)
TRANSFORMS = {
    "exp": (lambda lib: _d(lib).ExpTransform(), [X]),
    "sigmoid": (lambda lib: _d(lib).SigmoidTransform(), [X]),
    "tanh": (lambda lib: _d(lib).TanhTransform(), [X]),
    "softplus": (lambda lib: _d(lib).SoftplusTransform(), [X]),
    "affine_numbers": (lambda lib: _d(lib).AffineTransform(1.5, -2.0), [X]),
    "affine_tensors": (lambda lib, loc, scale: _d(lib).AffineTransform(loc, scale), [np.array([0.5, 1.0, -1.0]),
                                                                                 np.array([2.0, -0.5, 3.0]), X]),
    "affine_event_dim": (lambda lib, scale: _d(lib).AffineTransform(0.0, scale, event_dim=1),
                         [np.array([2.0, -0.5, 3.0]), X]),
    "power": (lambda lib, e: _d(lib).PowerTransform(e), [np.array([0.5, 2.0, -1.5]), POS]),
    "stick_breaking": (lambda lib: _d(lib).StickBreakingTransform(), [X]),
    "lower_cholesky": (lambda lib: _d(lib).LowerCholeskyTransform(),
                       [np.array([[[0.3, 5.0], [-1.2, 0.4]], [[1.0, 2.0], [3.0, -1.0]]])]),
    "corr_cholesky": (lambda lib: _d(lib).CorrCholeskyTransform(), [CORR_VEC]),
    "independent": (lambda lib: _d(lib).IndependentTransform(_d(lib).ExpTransform(), 1), [X]),
    "reshape": (lambda lib: _d(lib).ReshapeTransform((3,), (3, 1)), [X]),
    "compose": (lambda lib, scale: _d(lib).ComposeTransform(
        [_d(lib).AffineTransform(0.5, scale), _d(lib).ExpTransform(), _d(lib).AffineTransform(-1.0, 2.0)]),
        [np.array([2.0, -0.5, 3.0]), X]),
    "compose_to_simplex": (lambda lib: _d(lib).ComposeTransform(
        [_d(lib).TanhTransform(), _d(lib).StickBreakingTransform()]), [X]),
    "inverse": (lambda lib: _d(lib).ExpTransform().inv, [POS]),
    "identity": (lambda lib: _d(lib).identity_transform, [X]),
    "cat": (lambda lib: _d(lib).CatTransform([_d(lib).ExpTransform(), _d(lib).AffineTransform(1.0, 3.0)],
                                             dim=1, lengths=[2, 1]), [X]),
    "cat_event": (lambda lib: _d(lib).CatTransform([_d(lib).IndependentTransform(_d(lib).ExpTransform(), 1),
                                                    _d(lib).TanhTransform()],
                                                   dim=0, lengths=[1, 1]), [X]),
    "stack": (lambda lib: _d(lib).StackTransform([_d(lib).ExpTransform(), _d(lib).SigmoidTransform(),
                                                  _d(lib).TanhTransform()], dim=1), [X]),
    "cdf": (lambda lib, loc: _d(lib).CumulativeDistributionTransform(_d(lib).Normal(loc, 2.0)),
            [np.array([0.5, 1.0, -1.0]), X]),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_maps_inverses_and_log_jacobians_match_pytorch(name):
    make, arrays = TRANSFORMS[name]
    assert_forward_and_gradients_match_torch(_through(make), arrays)


def test_not_bijective_transforms_have_pytorch_pseudo_inverses():
    assert_forward_and_gradients_match_torch(
        lambda lib, x: (lambda t: (t(x), t.inv(t(x))))(_d(lib).SoftmaxTransform()), [X])
    assert_forward_and_gradients_match_torch(
        lambda lib, x: (lambda t: (t(x), t.inv(t(x))))(_d(lib).AbsTransform()), [X])
    assert_forward_and_gradients_match_torch(
        lambda lib, x: (lambda t: (t(x), t.inv(t(x))))(_d(lib).PositiveDefiniteTransform()),
        [np.array([[0.3, 5.0], [-1.2, 0.4]])])


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_domains_shapes_and_flags_match_pytorch(name):
    make, arrays = TRANSFORMS[name]
    ours, theirs = make(trainer, *map(trainer.tensor, arrays[:-1])), make(torch, *map(torch.tensor, arrays[:-1]))
    for attr in ("domain", "codomain"):
        assert repr(getattr(ours, attr)) == repr(getattr(theirs, attr)).replace("torch.", "trainer.")
        assert getattr(ours, attr).event_dim == getattr(theirs, attr).event_dim
    assert ours.bijective == theirs.bijective
    shape = arrays[-1].shape
    assert tuple(ours.forward_shape(shape)) == tuple(theirs.forward_shape(shape))
    out_shape = tuple(theirs.forward_shape(shape))
    assert tuple(ours.inverse_shape(out_shape)) == tuple(theirs.inverse_shape(out_shape))
    try:
        expected = theirs.sign
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            _ = ours.sign
    else:
        assert np.asarray(ours.sign).tolist() == np.asarray(expected).tolist()
    assert repr(ours) == repr(theirs).replace("torch.", "trainer.")


def test_cache_returns_the_remembered_input_and_equality_follows_pytorch():
    d = trainer.distributions
    t = d.ExpTransform(cache_size=1)
    x = trainer.tensor([0.5, 1.0])
    y = t(x)
    assert t(x) is y and t.inv(y) is x
    uncached = d.ExpTransform()
    assert uncached.inv(uncached(x)) is not x
    assert t.inv.inv is t and t.with_cache(1) is t and t.with_cache(0)._cache_size == 0
    assert d.ComposeTransform([d.ExpTransform()], cache_size=1).parts[0]._cache_size == 1
    assert d.ExpTransform() == d.ExpTransform() and d.ExpTransform().inv == d.ExpTransform().inv
    assert d.AffineTransform(1.0, 2.0) == d.AffineTransform(1.0, 2.0) != d.AffineTransform(1.0, 3.0)
    assert d.PowerTransform(2.0) == d.PowerTransform(2.0) and d.SigmoidTransform() != d.TanhTransform()
    assert d.ComposeTransform([d.ExpTransform()]).inv.inv.parts[0] == d.ExpTransform()


def test_bad_arguments_raise_as_in_pytorch():
    assert_raises_like_torch(lambda lib: _d(lib).ExpTransform(cache_size=2), ValueError, "cache_size must be 0 or 1")
    assert_raises_like_torch(lambda lib: _d(lib).ReshapeTransform((2, 3), (5,)), ValueError, "different numbers")
    assert_raises_like_torch(lambda lib: _d(lib).ReshapeTransform((2, 3), (6,)).forward_shape((3, 2)), ValueError,
                             "Shape mismatch")
    assert_raises_like_torch(lambda lib: _d(lib).CorrCholeskyTransform().forward_shape((4,)), ValueError,
                             "not a flattened lower-diagonal")
    assert_raises_like_torch(lambda lib: _d(lib).IndependentTransform(_d(lib).ExpTransform(), 2)(_t(lib, [1.0])),
                             ValueError, "Too few dimensions")
    assert_raises_like_torch(lambda lib: _d(lib).TransformedDistribution(_d(lib).Normal(0.0, 1.0), "exp"), ValueError,
                             "transforms must be a Transform or list")
    assert_raises_like_torch(lambda lib: _d(lib).TransformedDistribution(_d(lib).Normal(0.0, 1.0), [lib.exp]),
                             ValueError, "transforms must be a Transform or a list of Transforms")
    assert_raises_like_torch(lambda lib: _d(lib).TransformedDistribution(_d(lib).Normal(0.0, 1.0),
                                                                         _d(lib).StickBreakingTransform()),
                             ValueError, "needs to have shape with size at least 1")
    assert_raises_like_torch(lambda lib: _d(lib).transform_to(_d(lib).constraints.boolean), NotImplementedError,
                             "Cannot transform _Boolean constraints")
    assert_raises_like_torch(lambda lib: _d(lib).biject_to(_d(lib).constraints.positive_definite),
                             NotImplementedError, "Cannot transform")
    assert_raises_like_torch(lambda lib: _d(lib).biject_to.register(int, lambda c: None), TypeError,
                             "Constraint subclass or instance")
    assert_raises_like_torch(lambda lib: _d(lib).CatTransform([_d(lib).ExpTransform()], lengths=[1, 2]),
                             AssertionError, "must match transforms")


def _constraints(lib):
    c = _d(lib).constraints
    return {"real": c.real, "positive": c.positive, "nonnegative": c.nonnegative, "greater_than": c.greater_than(2.0),
            "greater_than_eq": c.greater_than_eq(-1.0), "less_than": c.less_than(3.0),
            "unit_interval": c.unit_interval, "interval": c.interval(-2.0, 5.0),
            "half_open_interval": c.half_open_interval(0.0, 4.0), "simplex": c.simplex,
            "real_vector": c.real_vector, "independent_positive": c.independent(c.positive, 1),
            "lower_cholesky": c.lower_cholesky, "positive_definite": c.positive_definite,
            "corr_cholesky": c.corr_cholesky, "cat": c.cat([c.positive, c.real], 1, [2, 1]),
            "stack": c.stack([c.positive, c.unit_interval, c.real], 1)}


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("name", list(_constraints(torch)))
def test_registries_pick_pytorch_transforms_that_land_in_the_constraint(registry, name):
    theirs_constraint, ours_constraint = _constraints(torch)[name], _constraints(trainer)[name]
    try:
        theirs = getattr(_d(torch), registry)(theirs_constraint)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            getattr(_d(trainer), registry)(ours_constraint)
        return
    ours = getattr(_d(trainer), registry)(ours_constraint)
    assert repr(ours) == repr(theirs).replace("torch.", "trainer.")
    shape = (2, 3, 3) if ours.domain.event_dim == 2 else (2, 3)
    x = np.random.default_rng(0).standard_normal(shape)
    y = ours(trainer.tensor(x))
    np.testing.assert_allclose(y.numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-14)
    assert bool(ours_constraint.check(y).all())
    if ours.bijective:
        np.testing.assert_allclose(ours.inv(y).numpy(), x, rtol=1e-9, atol=1e-9)


def test_registries_grow_with_register():
    d = trainer.distributions

    class Odd(d.constraints.Constraint):
        def check(self, value):
            return value % 2 == 1

    registry = d.constraint_registry.ConstraintRegistry()
    registry.register(Odd, lambda constraint: d.AffineTransform(1.0, 2.0))
    assert registry(Odd()) == d.AffineTransform(1.0, 2.0)


# ---------------------------------------------------------------- TransformedDistribution

def _log_normal(lib, loc, scale):
    return _d(lib).TransformedDistribution(_d(lib).Normal(loc, scale), [_d(lib).ExpTransform()])


TRANSFORMED = {
    "exp_of_normal": (lambda lib, loc, scale, x: (lambda d: (d.log_prob(x), d.cdf(x), d.icdf(_t(lib, [0.2, 0.9]))))(
        _log_normal(lib, loc, scale)), [np.array([0.0, 1.0]), np.array([1.0, 0.5]), np.array([0.5, 3.0])]),
    "decreasing": (lambda lib, loc, x: (lambda d: (d.log_prob(x), d.cdf(x), d.icdf(_t(lib, [0.2, 0.9]))))(
        _d(lib).TransformedDistribution(_d(lib).Normal(loc, 1.0), [_d(lib).AffineTransform(1.0, -2.0),
                                                                    _d(lib).ExpTransform()])),
        [np.array([0.0, 1.0]), np.array([0.5, 3.0])]),
    "tensor_sign": (lambda lib, loc, scale, x: (lambda d: (d.log_prob(x), d.cdf(x)))(
        _d(lib).TransformedDistribution(_d(lib).Normal(loc, 1.0), _d(lib).AffineTransform(0.0, scale))),
        [np.array([0.0, 1.0]), np.array([2.0, -0.5]), np.array([0.5, 3.0])]),
    "to_simplex": (lambda lib, loc, x: _d(lib).TransformedDistribution(
        _d(lib).Normal(loc, 1.0), _d(lib).StickBreakingTransform()).log_prob(x),
        [np.array([0.0, 1.0]), np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])]),
    "broadcast_by_transform": (lambda lib, scale, x: _d(lib).TransformedDistribution(
        _d(lib).Normal(0.0, 1.0), _d(lib).AffineTransform(0.0, scale)).log_prob(x),
        [np.array([2.0, 0.5, 3.0]), np.array([0.5, 3.0, -1.0])]),
    "reshape": (lambda lib, loc, x: _d(lib).TransformedDistribution(
        _d(lib).Normal(loc, 1.0), _d(lib).ReshapeTransform((4,), (2, 2))).log_prob(x),
        [np.array([0.0, 1.0, 2.0, 3.0]), np.array([[0.5, 3.0], [-1.0, 2.0]])]),
    "expand": (lambda lib, loc, x: _log_normal(lib, loc, 2.0).expand((3, 2)).log_prob(x),
               [np.array([0.0, 1.0]), np.array([0.5, 3.0])]),
}


@pytest.mark.parametrize("name", list(TRANSFORMED))
def test_transformed_distribution_matches_pytorch(name):
    fn, arrays = TRANSFORMED[name]
    assert_forward_and_gradients_match_torch(fn, arrays)


SHAPES = {
    "exp_of_normal": lambda lib: _log_normal(lib, _t(lib, [[0.0, 1.0]]), 1.0),
    "to_simplex": lambda lib: _d(lib).TransformedDistribution(_d(lib).Normal(_t(lib, np.zeros((4, 2))), 1.0),
                                                              _d(lib).StickBreakingTransform()),
    "broadcast": lambda lib: _d(lib).TransformedDistribution(_d(lib).Normal(0.0, 1.0),
                                                             _d(lib).AffineTransform(0.0, _t(lib, [1.0, 2.0]))),
    "reshape": lambda lib: _d(lib).TransformedDistribution(_d(lib).Normal(_t(lib, np.zeros((3, 4))), 1.0),
                                                           _d(lib).ReshapeTransform((4,), (2, 2))),
    "corr": lambda lib: _d(lib).TransformedDistribution(_d(lib).Normal(_t(lib, np.zeros(3)), 1.0),
                                                        _d(lib).CorrCholeskyTransform()),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_transformed_shapes_support_and_draws_match_pytorch(name):
    ours, theirs = SHAPES[name](trainer), SHAPES[name](torch)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert repr(ours.support) == repr(theirs.support).replace("torch.", "trainer.")
    assert ours.has_rsample == theirs.has_rsample
    for sample_shape in [(), (5,)]:
        draw = ours.sample(sample_shape)
        assert tuple(draw.shape) == tuple(theirs.sample(sample_shape).shape)
        assert bool(ours.support.check(draw).all()) and not draw.requires_grad
    expanded_ours, expanded_theirs = ours.expand((6,) + tuple(ours.batch_shape)), theirs.expand(
        (6,) + tuple(theirs.batch_shape))
    assert tuple(expanded_ours.batch_shape) == tuple(expanded_theirs.batch_shape)


def test_rsample_pushes_the_base_draw_through_the_transforms(monkeypatch):
    trainer.manual_seed(4)
    eps = trainer.randn((5, 2), dtype=trainer.float64).numpy()
    monkeypatch.setattr("torch.distributions.normal._standard_normal",
                        lambda shape, dtype, device: torch.tensor(eps))
    trainer.manual_seed(4)
    assert_forward_and_gradients_match_torch(lambda lib, loc, scale: _log_normal(lib, loc, scale).rsample((5,)),
                                             [np.array([0.0, 1.0]), np.array([1.0, 0.5])])


def test_validation_of_values_outside_the_support():
    for lib in (torch, trainer):
        with pytest.raises(ValueError):
            _log_normal(lib, 0.0, 1.0).log_prob(_t(lib, [-1.0]))
