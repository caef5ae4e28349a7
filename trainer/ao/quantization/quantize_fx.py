"""FX graph mode quantization, as ``torch.ao.quantization.quantize_fx``: ``fuse_fx``, ``prepare_fx`` /
``prepare_qat_fx`` (trace, fuse, insert observers by a ``QConfigMapping``) and ``convert_fx`` (lower to int8 modules
and quantized ops). The passes live in ``trainer.ao.quantization.fx``."""

from __future__ import annotations

import copy
import warnings

from trainer.ao.quantization.fx.convert import lower_to_quantized
from trainer.ao.quantization.fx.fuse import fuse_graph_module
from trainer.ao.quantization.fx.prepare import insert_observers, node_qconfigs, swap_qat_modules
from trainer.ao.quantization.fx.tracer import trace_for_quantization
from trainer.ao.quantization.qconfig_mapping import QConfigMapping
from trainer.fx import GraphModule
from trainer.nn import Module

__all__ = ["convert_fx", "fuse_fx", "prepare_fx", "prepare_qat_fx"]


def _check_backend_config(backend_config) -> None:
    if backend_config is not None:
        raise NotImplementedError("custom backend_config is not supported by trainer: FX quantization uses the "
                                  "default x86/fbgemm patterns; pass backend_config=None")


def _as_qconfig_mapping(qconfig_mapping) -> QConfigMapping:
    if isinstance(qconfig_mapping, QConfigMapping):
        return qconfig_mapping
    if isinstance(qconfig_mapping, dict):
        warnings.warn("Passing a QConfig dictionary to prepare is deprecated and will not be supported in a future "
                      "version. Please pass in a QConfigMapping instead.", FutureWarning, stacklevel=3)
        return QConfigMapping.from_dict(qconfig_mapping)
    raise TypeError(f"qconfig_mapping must be a QConfigMapping (or a qconfig dict), got "
                    f"{type(qconfig_mapping).__name__}")


def _check_module(model) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"expected a trainer.nn.Module to quantize, got {type(model).__name__}")


def fuse_fx(model: Module, fuse_custom_config=None, backend_config=None) -> GraphModule:
    """``model`` traced, with conv-bn(-relu), conv-relu, linear-bn, linear-relu and bn-relu fused (batch norm folded
    in eval mode). ``model`` itself is not changed."""
    _check_module(model)
    _check_backend_config(backend_config)
    traced, _ = trace_for_quantization(copy.deepcopy(model), fuse_custom_config)
    return fuse_graph_module(traced, is_qat=model.training)


def _prepare(model, qconfig_mapping, is_qat: bool, example_inputs, prepare_custom_config, backend_config):
    _check_module(model)
    _check_backend_config(backend_config)
    if example_inputs is None:
        raise TypeError("prepare_fx() missing required argument: 'example_inputs' (a tuple of example inputs)")
    mapping = _as_qconfig_mapping(qconfig_mapping)
    traced, node_name_to_scope = trace_for_quantization(copy.deepcopy(model), prepare_custom_config)
    fused = fuse_graph_module(traced, is_qat=is_qat)
    # fusion keeps node names, so the scopes recorded while tracing still apply
    qconfigs = node_qconfigs(fused, mapping, node_name_to_scope)
    if is_qat:
        swap_qat_modules(fused)
    return insert_observers(fused, qconfigs)


def prepare_fx(model: Module, qconfig_mapping, example_inputs, prepare_custom_config=None,
               backend_config=None) -> GraphModule:
    """A traced, fused copy of ``model`` (in eval mode) with observers where ``qconfig_mapping`` asks for
    quantization; run calibration data through it, then ``convert_fx``. ``prepare_custom_config`` may list
    ``non_traceable_module_name`` / ``non_traceable_module_class`` to keep whole."""
    return _prepare(model, qconfig_mapping, False, example_inputs, prepare_custom_config, backend_config)


def prepare_qat_fx(model: Module, qconfig_mapping, example_inputs, prepare_custom_config=None,
                   backend_config=None) -> GraphModule:
    """As ``prepare_fx`` for quantization-aware training: ``model`` must be in training mode; conv-bn stays a
    fused QAT module and layers get fake-quantized weights."""
    if not model.training:
        raise AssertionError("prepare_qat_fx only works on models in training mode")
    return _prepare(model, qconfig_mapping, True, example_inputs, prepare_custom_config, backend_config)


def convert_fx(graph_module: GraphModule, convert_custom_config=None, _remove_qconfig: bool = True,
               qconfig_mapping=None, backend_config=None, keep_original_weights: bool = False) -> GraphModule:
    """The int8 model of a prepared and calibrated ``graph_module``: ``quantize_per_tensor`` at the inputs of the
    quantized region, int8 modules and quantized ops inside it, ``dequantize`` where float ops or outputs read it."""
    _check_backend_config(backend_config)
    if not isinstance(graph_module, GraphModule):
        raise TypeError(f"convert_fx expects the GraphModule returned by prepare_fx, got "
                        f"{type(graph_module).__name__}")
    if qconfig_mapping is not None or convert_custom_config is not None or keep_original_weights:
        raise NotImplementedError("convert_fx takes no qconfig_mapping, convert_custom_config or "
                                  "keep_original_weights in trainer: the qconfigs given to prepare_fx are used")
    model = copy.deepcopy(graph_module)
    model.eval()
    converted = lower_to_quantized(model)
    if _remove_qconfig:
        for module in converted.modules():
            if "qconfig" in module.__dict__:
                del module.qconfig
    return converted
