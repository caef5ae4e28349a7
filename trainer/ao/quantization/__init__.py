"""Quantization-aware training's building blocks, as ``torch.ao.quantization``: observers, fake-quantize modules and
``QConfig``. The fake-quantized graphs export to ONNX as QuantizeLinear/DequantizeLinear pairs."""

from trainer.ao.quantization.convert import (
    convert,
    get_default_static_quant_module_mappings,
    get_static_quant_module_class,
)
from trainer.ao.quantization.dynamic_qconfig import (
    default_dynamic_qconfig,
    float16_dynamic_qconfig,
    per_channel_dynamic_qconfig,
)
from trainer.ao.quantization.embedding_qconfig import default_float_qparams_observer, float_qparams_weight_only_qconfig
from trainer.ao.quantization.fake_quantize import (
    FakeQuantize,
    FakeQuantizeBase,
    default_fake_quant,
    default_per_channel_weight_fake_quant,
    default_weight_fake_quant,
    disable_fake_quant,
    disable_observer,
    enable_fake_quant,
    enable_observer,
)
from trainer.ao.quantization.fixed_qparams import (
    FixedQParamsFakeQuantize,
    FixedQParamsObserver,
    default_fixed_qparams_range_0to1_fake_quant,
    default_fixed_qparams_range_0to1_observer,
    default_fixed_qparams_range_neg1to1_fake_quant,
    default_fixed_qparams_range_neg1to1_observer,
)
from trainer.ao.quantization.fuse_modules import fuse_known_modules, fuse_modules, fuse_modules_qat
from trainer.ao.quantization.fused_fake_quantize import (
    FusedMovingAvgObsFakeQuantize,
    default_fused_act_fake_quant,
    default_fused_per_channel_wt_fake_quant,
    default_fused_wt_fake_quant,
    fused_per_channel_wt_fake_quant_range_neg_127_to_127,
    fused_wt_fake_quant_range_neg_127_to_127,
)
from trainer.ao.quantization.fuser_method_mappings import get_fuser_method
from trainer.ao.quantization.observer import (
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    ObserverBase,
    PerChannelMinMaxObserver,
    UniformQuantizationObserverBase,
    default_observer,
    default_per_channel_weight_observer,
    default_weight_observer,
)
from trainer.ao.quantization.placeholder_observer import PlaceholderObserver, default_dynamic_quant_observer
from trainer.ao.quantization.qconfig import (
    QConfig,
    default_per_channel_symmetric_qnnpack_qat_qconfig,
    default_qat_qconfig,
    default_qat_qconfig_v2,
    default_symmetric_qnnpack_qat_qconfig,
    get_default_qat_qconfig,
)
from trainer.ao.quantization.quantization_mappings import (
    get_default_qat_module_mappings,
    get_default_qconfig_propagation_list,
)
from trainer.ao.quantization.quantize import add_quant_dequant, prepare, prepare_qat, propagate_qconfig_, swap_module
from trainer.ao.quantization.quantize_dynamic import get_default_dynamic_quant_module_mappings, quantize_dynamic
from trainer.ao.quantization.stubs import DeQuantStub, QuantStub, QuantWrapper

__all__ = [
    "quantize_dynamic",
    "get_default_dynamic_quant_module_mappings",
    "per_channel_dynamic_qconfig",
    "float16_dynamic_qconfig",
    "default_dynamic_quant_observer",
    "default_dynamic_qconfig",
    "PlaceholderObserver",
    "DeQuantStub",
    "FakeQuantize",
    "FakeQuantizeBase",
    "FixedQParamsFakeQuantize",
    "FixedQParamsObserver",
    "FusedMovingAvgObsFakeQuantize",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver",
    "ObserverBase",
    "PerChannelMinMaxObserver",
    "QConfig",
    "QuantStub",
    "QuantWrapper",
    "UniformQuantizationObserverBase",
    "add_quant_dequant",
    "convert",
    "default_fake_quant",
    "default_fixed_qparams_range_0to1_fake_quant",
    "default_fixed_qparams_range_0to1_observer",
    "default_fixed_qparams_range_neg1to1_fake_quant",
    "default_fixed_qparams_range_neg1to1_observer",
    "default_fused_act_fake_quant",
    "default_fused_per_channel_wt_fake_quant",
    "default_fused_wt_fake_quant",
    "default_observer",
    "default_per_channel_weight_fake_quant",
    "default_per_channel_weight_observer",
    "default_qat_qconfig",
    "default_weight_fake_quant",
    "default_weight_observer",
    "disable_fake_quant",
    "default_float_qparams_observer",
    "float_qparams_weight_only_qconfig",
    "disable_observer",
    "enable_fake_quant",
    "enable_observer",
    "fuse_known_modules",
    "fuse_modules",
    "fuse_modules_qat",
    "fused_per_channel_wt_fake_quant_range_neg_127_to_127",
    "fused_wt_fake_quant_range_neg_127_to_127",
    "get_default_qat_module_mappings",
    "get_default_qat_qconfig",
    "get_default_qconfig_propagation_list",
    "get_default_static_quant_module_mappings",
    "get_fuser_method",
    "get_static_quant_module_class",
    "prepare",
    "prepare_qat",
    "propagate_qconfig_",
    "swap_module",
]
