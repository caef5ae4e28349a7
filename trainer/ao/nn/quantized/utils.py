"""What the quantized layers share: quantizing a float weight with its observer's grid (``_quantize_weight``, with
the clamping to a narrower observer range PyTorch applies) and PyTorch's printing that hides the packed-parameter
child."""

from __future__ import annotations

import trainer
from trainer import quantized_types as qt
from trainer.nn.modules.module import Module

__all__ = ["_hide_packed_params_repr", "_quantize_weight"]

_PER_TENSOR = (qt.per_tensor_symmetric, qt.per_tensor_affine)
_PER_CHANNEL = (qt.per_channel_symmetric, qt.per_channel_affine)


def _weight_observer(observer):
    """The observer itself, or the one inside a fake-quantize module."""
    return getattr(observer, "activation_post_process", observer)


def _quantize_weight(float_wt, observer):
    """``float_wt`` quantized (qint8) on the grid ``observer`` (or a fake-quantize module) computes, clamped to the
    observer's ``[quant_min, quant_max]`` where that is narrower than the dtype's range."""
    wt_scale, wt_zp = observer.calculate_qparams()
    if observer.qscheme in _PER_TENSOR:
        qweight = trainer.quantize_per_tensor(float_wt, float(wt_scale), int(wt_zp), qt.qint8)
    elif observer.qscheme in _PER_CHANNEL:
        qweight = trainer.quantize_per_channel(float_wt, wt_scale.double(), wt_zp.long(), observer.ch_axis, qt.qint8)
    elif observer.qscheme == qt.per_channel_affine_float_qparams:
        qweight = trainer.quantize_per_channel(float_wt, wt_scale.float(), wt_zp.float(), observer.ch_axis,
                                               observer.dtype)
    else:
        raise ValueError(f"Unexpected qscheme {observer.qscheme!r}")
    return _clamp_weights(qweight, observer)


def _clamp_weights(qweight, observer):
    inner = _weight_observer(observer)
    qdtype = qweight.dtype
    if inner.quant_min <= qdtype.min and inner.quant_max >= qdtype.max:
        return qweight
    data = qweight._data
    xp = trainer.backend.xp_of(data.int_repr)
    clamped = xp.clip(data.int_repr, inner.quant_min, inner.quant_max).astype(data.int_repr.dtype)
    return trainer.Tensor._wrap(data.with_int_repr(clamped))


def _hide_packed_params_repr(module, params_type) -> str:
    """``Module.__repr__`` without the children of type ``params_type`` (the packed weights print in the layer's own
    line instead)."""
    return module._repr_with((name, child) for name, child in module._modules.items()
                             if not isinstance(child, params_type))


def save_output_grid(module, destination, prefix) -> None:
    """Put the layer's output grid (``scale``, ``zero_point``) in a state dict, as PyTorch's quantized layers do."""
    destination[prefix + "scale"] = trainer.tensor(module.scale)
    destination[prefix + "zero_point"] = trainer.tensor(module.zero_point)


def load_output_grid(module, state_dict, prefix) -> None:
    """Take the layer's output grid out of a state dict (the inverse of ``save_output_grid``)."""
    module.scale = float(state_dict.pop(prefix + "scale"))
    module.zero_point = int(state_dict.pop(prefix + "zero_point"))


class OutputGridModule(Module):
    """A quantized layer whose state dict holds its output grid after its own tensors, as PyTorch's do."""

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        save_output_grid(self, destination, prefix)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        load_output_grid(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)
