"""``torch.ao.nn.intrinsic.qat.LinearBn1d``: a ``Linear`` and its ``BatchNorm1d`` trained as one fake-quantized
linear layer, with the conv-bn modules' weight-scaling formula."""

from __future__ import annotations

import trainer
from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.intrinsic.qat.conv_fused import _BnStatsSwitch, _share_bn
from trainer.ao.nn.qat.linear import _check_qconfig
from trainer.nn import functional as F
from trainer.nn import init
from trainer.nn.modules.batchnorm import BatchNorm1d
from trainer.nn.modules.linear import Linear
from trainer.nn.parameter import Parameter
from trainer.nn.utils.fusion import fuse_linear_bn_weights

__all__ = ["LinearBn1d"]


class LinearBn1d(_BnStatsSwitch, Linear, nni._FusedModule):
    """``Linear`` + ``BatchNorm1d`` fused for quantization-aware training."""

    def __init__(self, in_features, out_features, bias=True, eps=1e-05, momentum=0.1, freeze_bn=False,
                 qconfig=None):
        Linear.__init__(self, in_features, out_features, bias)
        self._init_bn(BatchNorm1d(out_features, eps, momentum, True, True), freeze_bn, qconfig)
        if bias:
            self.bias = Parameter(trainer.empty(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_bn_parameters()
        self._start_bn_stats(freeze_bn)

    def reset_bn_parameters(self):
        self.bn.reset_running_stats()
        init.uniform_(self.bn.weight)
        init.zeros_(self.bn.bias)

    def forward(self, input):
        return self._scaled_weight_forward(input, F.linear)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The QAT module sharing the parameters and statistics of the ``LinearBn1d`` container ``mod``."""
        if type(mod) is not nni.LinearBn1d:
            raise AssertionError(f"qat.{cls.__name__}.from_float only works for LinearBn1d, got {type(mod).__name__}")
        _check_qconfig(mod)
        linear, bn = mod[0], mod[1]
        qat_linearbn = cls(linear.in_features, linear.out_features, linear.bias is not None, bn.eps, bn.momentum,
                           False, mod.qconfig)
        qat_linearbn.weight = linear.weight
        qat_linearbn.bias = linear.bias
        _share_bn(qat_linearbn.bn, bn)
        return qat_linearbn

    def to_float(self):
        """A float ``Linear`` with the batch norm folded in (running statistics)."""
        linear = Linear(self.in_features, self.out_features)
        linear.weight, linear.bias = fuse_linear_bn_weights(self.weight, self.bias, self.bn.running_mean,
                                                            self.bn.running_var, self.bn.eps, self.bn.weight,
                                                            self.bn.bias)
        return linear
