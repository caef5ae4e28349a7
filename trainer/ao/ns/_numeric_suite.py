"""The eager-mode Numeric Suite, as ``torch.ao.ns._numeric_suite``: tools that set a float model beside the model
quantized from it and collect what to compare, weight by weight (``compare_weights``), output by output
(``compare_model_outputs``: loggers on both models' matching modules) or module by module on the same input
(``compare_model_stub``: each quantized module runs with its float original as a ``Shadow``).

Results are PyTorch's, quirks included, so that a program ported from PyTorch prints the same keys and numbers:
module names are matched with their dots removed, ``ShadowLogger`` keeps the first element of anything longer than
one (a recurrent layer's output of ``(output, hidden)``, and so also the first row of a batch of outputs), and an
LSTM's entry in ``compare_weights`` holds its hidden-to-hidden weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainer import nn
from trainer import quantized_types as qt
from trainer.ao.nn import quantized as nnq
from trainer.ao.nn.quantized import dynamic as nnqd
from trainer.ao.quantization.compare_output_modules import get_default_compare_output_module_list
from trainer.ao.quantization.qconfig import QConfig
from trainer.ao.quantization.quantize import prepare
from trainer.quantized_tensor import _make_per_tensor_quantized_tensor

__all__ = [
    "NON_LEAF_MODULE_TO_ADD_OBSERVER_ALLOW_LIST",
    "Logger",
    "OutputLogger",
    "Shadow",
    "ShadowLogger",
    "compare_model_outputs",
    "compare_model_stub",
    "compare_weights",
    "get_logger_dict",
    "get_matching_activations",
    "prepare_model_outputs",
    "prepare_model_with_stubs",
]

# modules with sub-modules (packed weights) whose own output is logged
NON_LEAF_MODULE_TO_ADD_OBSERVER_ALLOW_LIST = {nnqd.Linear, nnq.Linear, nnqd.LSTM, nn.LSTM}

# float layers PyTorch logs as leaves but trainer's ``prepare`` refuses (it would swap them for a "quantizable"
# version, which trainer lacks); listed as non-leaves they get the same output logger
_LEAVES_PREPARE_REFUSES = {nn.LSTM}


def _find_match(str_list, key_str: str, postfix: str) -> str | None:
    """The entry of ``str_list`` for the module of ``key_str`` (a key ending in ``postfix``): the first whose name
    without its last one or two parts equals ``key_str``'s module name, all compared with the dots removed."""
    parts = key_str.split(".")
    if parts[-1] != postfix:
        return None
    # "fc._packed_params._packed_params" is the quantized form of "fc.weight": one level deeper
    module_names = [parts[:-1], parts[:-2]] if postfix == "_packed_params" else [parts[:-1]]
    for index, module_name in enumerate(module_names):
        match_string = "".join(module_name)
        if index > 0 and not match_string:
            return None
        for candidate in str_list:
            candidate_parts = candidate.split(".")
            if match_string in ("".join(candidate_parts[:-1]), "".join(candidate_parts[:-2])):
                return candidate
    return None


def compare_weights(float_dict: dict[str, Any], quantized_dict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """For each weight of the quantized model's state dict ``quantized_dict``, ``{"float": float weight,
    "quantized": quantized weight}`` under the quantized key: plain weights, packed Linear weights
    (``*._packed_params._packed_params``) and, for dynamic LSTMs, each layer's hidden-to-hidden weights
    (``*._all_weight_values.<layer>.param``)."""
    weight_dict: dict[str, dict] = {}
    for key in quantized_dict:
        match_key = _find_match(float_dict, key, "weight")
        if match_key is not None:
            weight_dict[key] = {"float": float_dict[match_key], "quantized": quantized_dict[key]}
            continue
        match_key = _find_match(float_dict, key, "_packed_params")
        if match_key is not None:
            weight_dict[key] = {"float": float_dict[match_key], "quantized": quantized_dict[key][0]}
        parts = key.split(".")
        if len(parts) >= 3 and parts[-1] == "param" and parts[-3] == "_all_weight_values":
            module_name, layer = ".".join(parts[:-3]), parts[-2]
            weight_ih_key, weight_hh_key = f"{module_name}.weight_ih_l{layer}", f"{module_name}.weight_hh_l{layer}"
            if weight_ih_key in float_dict and weight_hh_key in float_dict:
                # PyTorch fills in the input-to-hidden pair and then overwrites it with the hidden-to-hidden one
                weight_dict[key] = {"float": float_dict[weight_hh_key], "quantized": quantized_dict[key].hh[0]}
    return weight_dict


def _get_logger_dict_helper(mod: nn.Module, target_dict: dict[str, Any], prefix: str = "") -> None:
    """Put the stats of ``mod``'s first ``Logger`` child under ``<prefix>.stats``, then recurse."""
    dotted = prefix + "." if prefix else prefix
    logger = next((child for child in mod.children() if isinstance(child, Logger)), None)
    if logger is not None:
        target_dict[dotted + "stats"] = logger.stats
    for name, child in mod.named_children():
        _get_logger_dict_helper(child, target_dict, dotted + name)


def get_logger_dict(mod: nn.Module, prefix: str = "") -> dict[str, dict]:
    """The stats of every ``Logger`` in ``mod`` (a ``ShadowLogger``'s or an ``OutputLogger``'s), keyed by the
    qualified name of the module holding it plus ``".stats"``."""
    target_dict: dict[str, dict] = {}
    _get_logger_dict_helper(mod, target_dict, prefix)
    return target_dict


class Logger(nn.Module):
    """Base class of the stats loggers: a ``stats`` dict. ``dtype`` is quint8 so that FX mode, which takes a logger
    for an activation observer, inserts it where static quantization would put one."""

    def __init__(self):
        super().__init__()
        self.stats = {}
        self.dtype = qt.quint8

    def forward(self, x):
        """Records nothing; subclasses say what to keep."""


class ShadowLogger(Logger):
    """Records, in a ``Shadow``, the outputs of the quantized module and of its float shadow."""

    def __init__(self):
        super().__init__()
        self.stats["float"] = []
        self.stats["quantized"] = []

    def forward(self, x, y):
        """``x``: the quantized module's output, ``y``: the float one's; of anything longer than one only the first
        element is kept (the output of an ``(output, hidden)`` pair)."""
        if len(x) > 1:
            x = _first_element(x)
        if len(y) > 1:
            y = _first_element(y)
        self.stats["quantized"].append(x.detach())
        self.stats["float"].append(y.detach())


def _first_element(x):
    """``x[0]``. trainer's quantized tensors do not index: a per-tensor one (what quantized modules output) is
    indexed through its integers, on the same grid."""
    if getattr(x, "is_quantized", False) and x.qscheme() == qt.per_tensor_affine:
        return _make_per_tensor_quantized_tensor(x.int_repr()[0], x.q_scale(), x.q_zero_point())
    return x[0]


class OutputLogger(Logger):
    """Records each output of the module it observes, as it is (a tuple stays a tuple), and passes it on."""

    def __init__(self):
        super().__init__()
        self.stats["tensor_val"] = []

    def forward(self, x):
        self.stats["tensor_val"].append(x)
        return x


def _convert_tuple_to_list(t: Any) -> Any:
    return [_convert_tuple_to_list(x) for x in t] if type(t) is tuple else t


def _dequantize_tensor_list(t: Any) -> Any:
    if type(t) is list:
        return [_dequantize_tensor_list(x) for x in t]
    return t.dequantize() if t.is_quantized else t


def _dequantize_all(args) -> list:
    return [arg.dequantize() for arg in args]


class Shadow(nn.Module):
    """A quantized module with its float original as a shadow: both run on the same input (dequantized for the
    float one), ``logger_cls()`` records both outputs, and the quantized output goes on.

    Args:
        q_module: the quantized module
        float_module: the float module it was quantized from
        logger_cls: the logger class, called with ``(quantized output, float output)`` (``ShadowLogger``)
    """

    def __init__(self, q_module, float_module, logger_cls):
        super().__init__()
        self.orig_module = q_module
        self.shadow_module = float_module
        self.dequant = nnq.DeQuantize()
        self.logger = logger_cls()

    def forward(self, *x):
        xl = _convert_tuple_to_list(x)
        output = self.orig_module(*xl)
        self.logger(output, self.shadow_module(*_dequantize_tensor_list(xl)))
        return output

    def _shadow_call(self, op: str, quantized_args: tuple, float_args: tuple, *attributes):
        """``orig_module.<op>`` (a ``QFunctional`` op) on ``quantized_args``, logged with the shadow's ``<op>`` on
        ``float_args``; both get ``attributes`` after them."""
        output = getattr(self.orig_module, op)(*quantized_args, *attributes)
        self.logger(output, getattr(self.shadow_module, op)(*float_args, *attributes))
        return output

    def add(self, x, y):
        return self._shadow_call("add", (x, y), _dequantize_all((x, y)))

    def add_scalar(self, x, y: float):
        return self._shadow_call("add_scalar", (x,), _dequantize_all((x,)), y)

    def mul(self, x, y):
        return self._shadow_call("mul", (x, y), _dequantize_all((x, y)))

    def mul_scalar(self, x, y: float):
        return self._shadow_call("mul_scalar", (x,), _dequantize_all((x,)), y)

    def cat(self, x: list, dim: int = 0):
        return self._shadow_call("cat", (x,), (_dequantize_all(x),), dim)

    def add_relu(self, x, y):
        return self._shadow_call("add_relu", (x, y), _dequantize_all((x, y)))


def _is_identical_module_type(mod1, mod2) -> bool:
    """Whether both modules and all their sub-modules have the same types, in order."""
    return [type(m) for m in mod1.modules()] == [type(m) for m in mod2.modules()]


def prepare_model_with_stubs(float_module: nn.Module, q_module: nn.Module, module_swap_list, logger_cls: Callable
                             ) -> None:
    """In place: replace each child of ``q_module`` whose float counterpart (the child of ``float_module`` of the
    same name) has a type in ``module_swap_list`` and differs from it in type by a ``Shadow`` of the two; recurse
    into the other children."""
    float_module_children = dict(float_module.named_children())
    reassign = {}
    for name, mod in q_module.named_children():
        if name not in float_module_children:
            continue
        float_mod = float_module_children[name]
        if type(float_mod) not in module_swap_list:
            prepare_model_with_stubs(float_mod, mod, module_swap_list, logger_cls)
        elif not _is_identical_module_type(mod, float_mod):
            reassign[name] = Shadow(mod, float_mod, logger_cls)
    for name, shadow in reassign.items():
        q_module._modules[name] = shadow


def compare_model_stub(float_model: nn.Module, q_model: nn.Module, module_swap_list, *data, logger_cls=ShadowLogger
                       ) -> dict[str, dict]:
    """Shadow ``q_model``'s modules whose float types ``module_swap_list`` names with their float originals
    (``prepare_model_with_stubs``, in place), run ``q_model(*data)`` and return the loggers' stats: for the default
    ``ShadowLogger``, ``{"<module>.stats": {"float": [...], "quantized": [...]}}``."""
    prepare_model_with_stubs(float_model, q_model, module_swap_list, logger_cls)
    q_model(*data)
    return get_logger_dict(q_model)


def get_matching_activations(float_module: nn.Module, q_module: nn.Module) -> dict[str, dict[str, Any]]:
    """``{"float": [...], "quantized": [...]}`` for each ``OutputLogger`` of ``q_module`` that recorded something,
    with the logged outputs of the matching module of ``float_module``."""
    float_dict = get_logger_dict(float_module)
    quantized_dict = get_logger_dict(q_module)
    act_dict: dict[str, dict] = {}
    for key in quantized_dict:
        if len(quantized_dict[key]["tensor_val"]) == 0:
            continue
        match_key = _find_match(sorted(float_dict, reverse=True), key, "stats")
        if match_key is not None:
            act_dict[key] = {"float": float_dict[match_key]["tensor_val"],
                             "quantized": quantized_dict[key]["tensor_val"]}
    return act_dict


def prepare_model_outputs(float_module: nn.Module, q_module: nn.Module, logger_cls=OutputLogger, allow_list=None
                          ) -> None:
    """In place: give both models a ``logger_cls`` on the output of each module whose type is in ``allow_list``
    (by default ``get_default_compare_output_module_list()``), and on ``q_module``'s quantized Linear and LSTM
    layers, through ``prepare`` with a qconfig whose activation observer is the logger."""
    if allow_list is None:
        allow_list = get_default_compare_output_module_list()
    qconfig_debug = QConfig(activation=logger_cls, weight=None)
    float_module.qconfig = qconfig_debug
    prepare(float_module, inplace=True, allow_list=allow_list,
            observer_non_leaf_module_list=_LEAVES_PREPARE_REFUSES & set(allow_list), prepare_custom_config_dict={})
    q_module.qconfig = qconfig_debug
    prepare(q_module, inplace=True, allow_list=allow_list,
            observer_non_leaf_module_list=NON_LEAF_MODULE_TO_ADD_OBSERVER_ALLOW_LIST, prepare_custom_config_dict={})


def compare_model_outputs(float_model: nn.Module, q_model: nn.Module, *data, logger_cls=OutputLogger,
                          allow_list=None) -> dict[str, dict[str, Any]]:
    """Log the outputs of the matching modules of both models (``prepare_model_outputs``, in place) on the same
    ``data`` and return them per quantized module: ``{"<module>.stats": {"float": [...], "quantized": [...]}}``."""
    if allow_list is None:
        allow_list = get_default_compare_output_module_list()
    prepare_model_outputs(float_model, q_model, logger_cls, allow_list)
    float_model(*data)
    q_model(*data)
    return get_matching_activations(float_model, q_model)
