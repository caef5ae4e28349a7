"""The module types whose outputs the Numeric Suite records, as ``torch.ao.quantization.quantization_mappings.
get_default_compare_output_module_list``: every float, QAT, static int8 and dynamic quantized module type of the
default mappings, plus ``nn.Sequential``. (It reads the static and dynamic mappings, which import the quantize
module that ``quantization_mappings`` serves: hence a module of its own.)"""

from __future__ import annotations

from trainer.ao.quantization.convert import DEFAULT_STATIC_QUANT_MODULE_MAPPINGS
from trainer.ao.quantization.quantization_mappings import _INCLUDE_QCONFIG_PROPAGATE_LIST, DEFAULT_QAT_MODULE_MAPPINGS
from trainer.ao.quantization.quantize_dynamic import DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS

__all__ = ["get_default_compare_output_module_list"]


def get_default_compare_output_module_list() -> set:
    """A new set of the module types ``compare_model_outputs`` attaches an output logger to by default."""
    mappings = (DEFAULT_STATIC_QUANT_MODULE_MAPPINGS, DEFAULT_QAT_MODULE_MAPPINGS,
                DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)
    module_types = {module_type for mapping in mappings for pair in mapping.items() for module_type in pair}
    return module_types | set(_INCLUDE_QCONFIG_PROPAGATE_LIST)
