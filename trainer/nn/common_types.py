"""``nn.common_types``: the type aliases PyTorch's layer signatures use (a value or a tuple of values per spatial
dimension, for sizes, ratios and tensors), for code that annotates with them."""

from __future__ import annotations

from typing import TypeVar, Union

from trainer.tensor import Tensor

T = TypeVar("T")

# a value that may also be given once per dimension, as a tuple of unknown or fixed length
_scalar_or_tuple_any_t = Union[T, tuple[T, ...]]  # noqa: UP007 - a subscriptable generic alias needs Union
_scalar_or_tuple_1_t = Union[T, tuple[T]]  # noqa: UP007
_scalar_or_tuple_2_t = Union[T, tuple[T, T]]  # noqa: UP007
_scalar_or_tuple_3_t = Union[T, tuple[T, T, T]]  # noqa: UP007
_scalar_or_tuple_4_t = Union[T, tuple[T, T, T, T]]  # noqa: UP007
_scalar_or_tuple_5_t = Union[T, tuple[T, T, T, T, T]]  # noqa: UP007
_scalar_or_tuple_6_t = Union[T, tuple[T, T, T, T, T, T]]  # noqa: UP007

# sizes (kernel size, padding, ...)
_size_any_t = _scalar_or_tuple_any_t[int]
_size_1_t = _scalar_or_tuple_1_t[int]
_size_2_t = _scalar_or_tuple_2_t[int]
_size_3_t = _scalar_or_tuple_3_t[int]
_size_4_t = _scalar_or_tuple_4_t[int]
_size_5_t = _scalar_or_tuple_5_t[int]
_size_6_t = _scalar_or_tuple_6_t[int]

# optional sizes (adaptive pooling's output size)
_size_any_opt_t = _scalar_or_tuple_any_t[Union[int, None]]  # noqa: UP007
_size_2_opt_t = _scalar_or_tuple_2_t[Union[int, None]]  # noqa: UP007
_size_3_opt_t = _scalar_or_tuple_3_t[Union[int, None]]  # noqa: UP007

# ratios per dimension (upsampling's scale factor)
_ratio_2_t = _scalar_or_tuple_2_t[float]
_ratio_3_t = _scalar_or_tuple_3_t[float]
_ratio_any_t = _scalar_or_tuple_any_t[float]
_tensor_list_t = _scalar_or_tuple_any_t[Tensor]

# max pooling's result, with or without the indices
_maybe_indices_t = _scalar_or_tuple_2_t[Tensor]
