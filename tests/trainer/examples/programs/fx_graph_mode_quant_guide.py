# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials prototype_source/fx_graph_mode_quant_guide.py: the guide's code sketches made concrete with
small modules (current API: QConfigMapping, ``example_inputs``, ``prepare_custom_config``). Section 2.b (custom
observed/quantized module classes) is left out."""

import copy

import torch
import torch.nn as nn
from torch.ao.quantization import get_default_qconfig, QConfigMapping
from torch.ao.quantization.quantize_fx import prepare_fx, convert_fx

qconfig = get_default_qconfig("x86")
qconfig_mapping = QConfigMapping().set_global(qconfig)


def non_traceable_code(x):
    # data dependent control flow: symbolic tracing cannot branch on a traced value
    if x.sum() > 0:
        return x * 2
    return x


class FP32Traceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.relu(self.conv(x))
        return x


# 1.a. Symbolically trace only the code that needs to be quantized
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.traceable_submodule = FP32Traceable()

    def forward(self, x):
        x = non_traceable_code(x)
        # We'll only symbolic trace/quantize this submodule
        x = self.traceable_submodule(x)
        x = non_traceable_code(x)
        return x


def quantize_submodule(model_fp32, example_inputs, calibration_data):
    model_fp32.eval()
    model_fp32.traceable_submodule = \
      prepare_fx(model_fp32.traceable_submodule, qconfig_mapping, example_inputs)
    for x in calibration_data:
        model_fp32(x)
    model_fp32.traceable_submodule = convert_fx(model_fp32.traceable_submodule)
    return model_fp32


# 1.b. Skip symbolically trace the non-traceable code
class FP32NonTraceable(nn.Module):
    def forward(self, x):
        x = non_traceable_code(x)
        return x


class M2(nn.Module):
    def __init__(self):
        super().__init__()
        self.traceable_code_1 = FP32Traceable()
        self.non_traceable_submodule = FP32NonTraceable()
        self.traceable_code_2 = FP32Traceable()

    def forward(self, x):
        x = self.traceable_code_1(x)
        # we will configure the quantization call to not trace through
        # this submodule
        x = self.non_traceable_submodule(x)
        x = self.traceable_code_2(x)
        return x


def quantize_skipping(model_fp32, example_inputs, calibration_data, option):
    prepare_custom_config_dict = {
        # option 1
        "non_traceable_module_name": ["non_traceable_submodule"],
    } if option == 1 else {
        # option 2
        "non_traceable_module_class": [FP32NonTraceable],
    }
    model_fp32.eval()
    model_prepared = prepare_fx(
        model_fp32,
        qconfig_mapping,
        example_inputs,
        prepare_custom_config=prepare_custom_config_dict,
    )
    prepared_graph = str(model_prepared.graph)
    for x in calibration_data:
        model_prepared(x)
    return prepared_graph, convert_fx(model_prepared)


# 2.a Refactor your code to make it symbolically traceable
class SelfAttentionScores(nn.Module):
    def __init__(self, num_attention_heads=2, attention_head_size=3, unpack=False):
        super().__init__()
        self.num_attention_heads = num_attention_heads
        self.attention_head_size = attention_head_size
        self.unpack = unpack
        self.query = nn.Linear(num_attention_heads * attention_head_size, num_attention_heads * attention_head_size)

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        x = x.view(*new_x_shape) if self.unpack else x.view(new_x_shape)
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states):
        return self.transpose_for_scores(self.query(hidden_states))
