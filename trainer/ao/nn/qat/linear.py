"""``torch.ao.nn.qat.Linear``: a ``Linear`` whose weight passes through its qconfig's weight fake-quantize module on
every forward, so training sees the int8 grid the deployed layer will use."""

from __future__ import annotations

from trainer.ao.nn.intrinsic.fused import LinearReLU as FloatLinearReLU
from trainer.nn import functional as F
from trainer.nn.modules.linear import Linear as FloatLinear
from trainer.nn.parameter import Parameter
from trainer.nn.utils.parametrize import (
    is_parametrized,
    transfer_parametrizations_and_params,
    type_before_parametrizations,
)

__all__ = ["Linear"]


class Linear(FloatLinear):
    """``Linear`` with ``weight_fake_quant`` built from ``qconfig.weight``."""

    _FLOAT_MODULE = FloatLinear

    def __init__(self, in_features, out_features, bias=True, qconfig=None, device=None, dtype=None):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(in_features, out_features, bias, **factory_kwargs)
        if not qconfig:
            raise AssertionError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight(factory_kwargs=factory_kwargs)

    def forward(self, input):
        return F.linear(input, self.weight_fake_quant(self.weight), self.bias)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The QAT layer sharing ``mod``'s parameters (and parametrizations); ``mod`` must carry a ``qconfig``."""
        if type_before_parametrizations(mod) != cls._FLOAT_MODULE:
            raise AssertionError(f"qat.{cls.__name__}.from_float only works for {cls._FLOAT_MODULE.__name__}, got "
                                 f"{type_before_parametrizations(mod).__name__}")
        _check_qconfig(mod)
        if type_before_parametrizations(mod) == FloatLinearReLU:
            mod = mod[0]
        qat_linear = cls(mod.in_features, mod.out_features, bias=mod.bias is not None, qconfig=mod.qconfig)
        for name in ("weight", "bias"):
            if is_parametrized(mod, name):
                transfer_parametrizations_and_params(mod, qat_linear, name)
            else:
                setattr(qat_linear, name, getattr(mod, name))
        return qat_linear

    def to_float(self):
        """A plain ``Linear`` with a copy of the (not fake-quantized) parameters."""
        linear = FloatLinear(self.in_features, self.out_features, self.bias is not None)
        linear.weight = Parameter(self.weight.detach())
        if self.bias is not None:
            linear.bias = Parameter(self.bias.detach())
        linear.train(self.training)
        return linear


def _check_qconfig(mod) -> None:
    if not hasattr(mod, "qconfig"):
        raise AssertionError("Input float module must have qconfig defined")
    if not mod.qconfig:
        raise AssertionError("Input float module must have a valid qconfig")
