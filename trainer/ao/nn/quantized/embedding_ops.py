"""``torch.ao.nn.quantized.Embedding`` and ``EmbeddingBag``: weight-only quantized embeddings, quint8 rows each with
a float scale and zero point (``per_channel_affine_float_qparams``), float32 outputs (see ``embedding_kernels``).
The weight lives in an ``EmbeddingPackedParams`` child whose state_dict entries are ``_packed_params.dtype`` and
``_packed_params._packed_weight`` (the quantized weight), as PyTorch saves them.

As PyTorch's, ``EmbeddingBag`` always sums its bags (PyTorch passes mode 0 to its kernel whatever ``mode`` says), and
``padding_idx``, ``max_norm`` and the other float-only options are kept for printing but do not change the lookup."""

from __future__ import annotations

import trainer
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.nn.quantized import embedding_kernels as kernels
from trainer.ao.nn.quantized.utils import _hide_packed_params_repr, _quantize_weight
from trainer.nn.modules.embedding_bag import EmbeddingBag as FloatEmbeddingBag
from trainer.nn.modules.module import Module
from trainer.nn.modules.sparse import Embedding as FloatEmbedding

__all__ = ["Embedding", "EmbeddingBag", "EmbeddingPackedParams"]


def _empty_row_quantized(num_embeddings: int, embedding_dim: int):
    """A zero quint8 weight with scale 1 and zero point 0 per row."""
    return trainer._make_per_channel_quantized_tensor(
        trainer.zeros(num_embeddings, embedding_dim, dtype=dtypes.uint8), trainer.ones(num_embeddings),
        trainer.zeros(num_embeddings), 0)


def _check_dtype(dtype) -> None:
    if dtype is not qt.quint8:
        raise NotImplementedError(f"Unsupported dtype on quantized embedding! trainer supports quint8 (PyTorch also "
                                  f"quint4x2, which trainer does not have). Got dtype: {dtype!r}")


class EmbeddingPackedParams(Module):
    """Holds the quantized embedding weight (PyTorch packs it for fbgemm; trainer keeps the quantized tensor, which
    is what unpacking gives back)."""

    _version = 1

    def __init__(self, num_embeddings, embedding_dim, dtype=qt.quint8):
        super().__init__()
        _check_dtype(dtype)
        self.dtype = dtype
        self.set_weight(_empty_row_quantized(num_embeddings, embedding_dim))

    def set_weight(self, weight) -> None:
        data = getattr(weight, "_data", None)
        if getattr(data, "qscheme", None) is not qt.per_channel_affine_float_qparams or data.axis != 0 \
                or data.ndim != 2:
            scheme = weight.qscheme() if hasattr(weight, "qscheme") else type(weight).__name__
            raise RuntimeError(f"Expected a 2-D embedding weight quantized per row (axis 0) with "
                               f"per_channel_affine_float_qparams, got {scheme}")
        self._packed_weight = weight

    def _weight(self):
        return self._packed_weight

    def forward(self, x):
        return x

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_weight"] = self._weight()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.dtype = state_dict.pop(prefix + "dtype")
        self.set_weight(state_dict.pop(prefix + "_packed_weight"))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    def __repr__(self):
        return repr(self._weight())


def _weight_observer_of(mod, float_type):
    """The observer that gives the embedding weight its grid: the QAT module's fake-quantize, the float module's
    qconfig weight observer, or the default float-qparams one; checked as PyTorch checks it."""
    from trainer.ao.quantization.embedding_qconfig import float_qparams_weight_only_qconfig

    name = float_type.__name__
    if hasattr(mod, "weight_fake_quant"):
        observer = mod.weight_fake_quant
    else:
        if type(mod) is not float_type:
            raise AssertionError(f"nnq.{name}.from_float only works for {name}")
        if not hasattr(mod, "qconfig"):
            raise AssertionError(f"{name} input float module must have qconfig defined")
        if mod.qconfig is not None and mod.qconfig.weight is not None:
            observer = mod.qconfig.weight()
        else:
            observer = float_qparams_weight_only_qconfig.weight()
    if observer.qscheme is not qt.per_channel_affine_float_qparams:
        raise AssertionError(f"{name} quantization is only supported with float_qparams_weight_only_qconfig.")
    if observer.dtype is not qt.quint8:
        raise AssertionError(f"The only supported dtype for nnq.{name} in trainer is trainer.quint8 (PyTorch also "
                             f"takes quint4x2), got {observer.dtype!r}")
    return observer


class Embedding(Module):
    """Weight-only quantized ``Embedding``: ``forward(indices)`` gives the dequantized rows (float32)."""

    _version = 1

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, dtype=qt.quint8):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.dtype = dtype
        if _weight is None:
            qweight = _empty_row_quantized(num_embeddings, embedding_dim)
        else:
            expected = [num_embeddings, embedding_dim]
            if list(_weight.shape) != expected:
                raise AssertionError(f"Shape of weight does not match num_embeddings and embedding_dim: expected "
                                     f"{expected}, got {list(_weight.shape)}")
            qweight = _weight
        self._packed_params = EmbeddingPackedParams(num_embeddings, embedding_dim, dtype)
        self._packed_params.set_weight(qweight)

    def forward(self, indices):
        return kernels.embedding_byte(self._packed_params._packed_weight, indices)

    def _get_name(self):
        return "QuantizedEmbedding"

    def __repr__(self):
        return _hide_packed_params_repr(self, EmbeddingPackedParams)

    def extra_repr(self):
        return (f"num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim}, "
                f"dtype={self._packed_params.dtype}, qscheme={self.weight().qscheme()}")

    def set_weight(self, w) -> None:
        self._packed_params.set_weight(w)

    def weight(self):
        return self._packed_params._weight()

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """From a float ``Embedding`` with a float-qparams qconfig: the weight observed and quantized per row."""
        observer = _weight_observer_of(mod, FloatEmbedding)
        observer(mod.weight)
        qembedding = Embedding(mod.num_embeddings, mod.embedding_dim)
        qembedding.set_weight(_quantize_weight(mod.weight.detach().float(), observer))
        return qembedding


class EmbeddingBag(Embedding):
    """Weight-only quantized ``EmbeddingBag``: ``forward(indices, offsets, per_sample_weights)`` sums each bag's
    dequantized rows (float32)."""

    _version = 1

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="sum", sparse=False, _weight=None, include_last_offset=False,
                 dtype=qt.quint8):
        super().__init__(num_embeddings, embedding_dim, _weight=_weight, dtype=dtype)
        self.mode = mode
        self.pruned_weights = False
        self.include_last_offset = include_last_offset
        self.dtype = dtype

    def forward(self, indices, offsets=None, per_sample_weights=None, compressed_indices_mapping=None):
        if compressed_indices_mapping is not None:
            raise NotImplementedError("compressed_indices_mapping (pruned embedding weights) is not supported by "
                                      "trainer's quantized EmbeddingBag")
        return kernels.embedding_bag_byte(self._packed_params._packed_weight, indices, offsets, per_sample_weights,
                                          self.include_last_offset)

    def _get_name(self):
        return "QuantizedEmbeddingBag"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """From a float ``EmbeddingBag`` with a float-qparams qconfig: the weight observed and quantized per row."""
        observer = _weight_observer_of(mod, FloatEmbeddingBag)
        observer(mod.weight)
        qembedding_bag = EmbeddingBag(mod.num_embeddings, mod.embedding_dim, max_norm=mod.max_norm,
                                      norm_type=mod.norm_type, scale_grad_by_freq=mod.scale_grad_by_freq,
                                      mode=mod.mode, sparse=mod.sparse, include_last_offset=mod.include_last_offset,
                                      dtype=observer.dtype)
        qembedding_bag.set_weight(_quantize_weight(mod.weight.detach().float(), observer))
        return qembedding_bag
