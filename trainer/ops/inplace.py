"""The op side of the in-place family: the node that keeps a comparison written in place differentiable (with a
zero gradient, as PyTorch's ``x.eq_(y)``), and the top-level in-place functions (``torch.relu_(x)`` is
``x.relu_()``). The methods themselves are in ``trainer.tensor_inplace``."""

from __future__ import annotations

from trainer.autograd import is_grad_enabled
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.tensor import Tensor


class InPlaceComparison(Function):
    """``result`` (a comparison of ``operands``, cast to the dtype of the tensor it is written into), recorded so
    that the tensor still requires grad afterwards and every operand gets a zero gradient through it."""

    @staticmethod
    def forward(ctx, result, *operands):
        ctx.operands = [(o.shape, o.dtype) for o in operands]
        return result

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        zeros = [xp.zeros(shape, dtype) if need else None
                 for (shape, dtype), need in zip(ctx.operands, ctx.needs_input_grad[1:])]
        return (None, *zeros)


def compare_in_place(result: Tensor, *operands: Tensor) -> Tensor:
    """``result`` in the dtype of ``operands[0]`` (the tensor written into), differentiable as PyTorch's in-place
    comparisons are when any operand requires grad; with nothing to record, no node (none for export to trace)."""
    result = result.to(operands[0].dtype)
    if not (is_grad_enabled() and any(o.requires_grad for o in operands)):
        return result
    return InPlaceComparison.apply(result, *operands)


def _calls_method(name: str):
    """The top-level function ``name``: ``torch.exp_(x, ...)`` is ``x.exp_(...)``."""

    def function(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"In-place version of ``{name[:-1]}``: ``{name}(input, ...)`` is ``input.{name}(...)``."
    return function


abs_ = _calls_method("abs_")
acos_ = _calls_method("acos_")
acosh_ = _calls_method("acosh_")
arccos_ = _calls_method("arccos_")
arccosh_ = _calls_method("arccosh_")
arcsin_ = _calls_method("arcsin_")
arcsinh_ = _calls_method("arcsinh_")
arctan_ = _calls_method("arctan_")
arctanh_ = _calls_method("arctanh_")
asin_ = _calls_method("asin_")
asinh_ = _calls_method("asinh_")
atan_ = _calls_method("atan_")
atanh_ = _calls_method("atanh_")
ceil_ = _calls_method("ceil_")
clamp_ = _calls_method("clamp_")
clamp_max_ = _calls_method("clamp_max_")
clamp_min_ = _calls_method("clamp_min_")
clip_ = _calls_method("clip_")
cos_ = _calls_method("cos_")
cosh_ = _calls_method("cosh_")
deg2rad_ = _calls_method("deg2rad_")
erf_ = _calls_method("erf_")
erfc_ = _calls_method("erfc_")
exp_ = _calls_method("exp_")
exp2_ = _calls_method("exp2_")
expm1_ = _calls_method("expm1_")
fix_ = _calls_method("fix_")
floor_ = _calls_method("floor_")
frac_ = _calls_method("frac_")
gcd_ = _calls_method("gcd_")
i0_ = _calls_method("i0_")
lcm_ = _calls_method("lcm_")
ldexp_ = _calls_method("ldexp_")
log_ = _calls_method("log_")
log10_ = _calls_method("log10_")
log1p_ = _calls_method("log1p_")
log2_ = _calls_method("log2_")
logit_ = _calls_method("logit_")
nan_to_num_ = _calls_method("nan_to_num_")
neg_ = _calls_method("neg_")
negative_ = _calls_method("negative_")
rad2deg_ = _calls_method("rad2deg_")
reciprocal_ = _calls_method("reciprocal_")
relu_ = _calls_method("relu_")
round_ = _calls_method("round_")
rsqrt_ = _calls_method("rsqrt_")
sigmoid_ = _calls_method("sigmoid_")
sin_ = _calls_method("sin_")
sinc_ = _calls_method("sinc_")
sinh_ = _calls_method("sinh_")
sqrt_ = _calls_method("sqrt_")
square_ = _calls_method("square_")
tan_ = _calls_method("tan_")
tanh_ = _calls_method("tanh_")
trunc_ = _calls_method("trunc_")
xlogy_ = _calls_method("xlogy_")
