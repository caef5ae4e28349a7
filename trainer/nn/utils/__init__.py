"""Utilities around modules and their parameters, as in ``torch.nn.utils``."""

from trainer.nn.utils import fusion, parametrizations, parametrize, prune, rnn, stateless
from trainer.nn.utils.clip_grad import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from trainer.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from trainer.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from trainer.nn.utils.init import skip_init
from trainer.nn.utils.memory_format import convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format
from trainer.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from trainer.nn.utils.weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "rnn", "vector_to_parameters"]
__all__ += ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights",
            "parametrizations", "parametrize", "remove_spectral_norm", "remove_weight_norm", "skip_init",
            "spectral_norm", "stateless", "weight_norm"]
__all__ += ["prune"]
__all__ += ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]
