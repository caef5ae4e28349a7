"""``default_collate`` (a list of samples -> one batch) and ``default_convert`` (NumPy -> tensors), as in PyTorch."""

from __future__ import annotations

import collections.abc

import numpy as np

from trainer import dtypes
from trainer.creation import from_numpy, tensor
from trainer.ops.join import stack
from trainer.tensor import Tensor

_UNSUPPORTED = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_string_or_object_array(array: np.ndarray) -> bool:
    return array.dtype.kind in "SUOV"


def default_collate(batch):
    """Merge a list of samples into a batch, recursing into their structure.

    Tensors and NumPy arrays are stacked along a new first dimension; Python ints become an int64
    tensor, floats a float64 tensor and bools a bool tensor (PyTorch's choices); strings stay a list;
    dicts, named tuples and sequences are collated field by field (tuples come back as lists).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, str):  # before NumPy: np.str_ is a str
        return batch
    if isinstance(elem, (np.ndarray, np.generic)):
        if _is_string_or_object_array(np.asarray(elem)):
            raise TypeError(_UNSUPPORTED.format(np.asarray(elem).dtype))
        return from_numpy(np.stack(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=dtypes.float64)
    if isinstance(elem, int):  # bools too: an all-bool batch gives a bool tensor, as in PyTorch
        return tensor(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([sample[key] for sample in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:  # a mapping type that cannot be built from a dict
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        collated = [default_collate(field) for field in zip(*batch)]
        if isinstance(elem, (tuple, list)):
            return collated
        try:
            return type(elem)(collated)
        except TypeError:  # a sequence type that cannot be built from a list (``range``, say)
            return collated
    raise TypeError(_UNSUPPORTED.format(type(elem)))


def default_convert(data):
    """Turn NumPy arrays inside ``data`` into tensors, leaving everything else as it is.

    The DataLoader applies it to each sample when ``batch_size=None`` turns batching off.
    """
    if isinstance(data, Tensor) or isinstance(data, str):
        return data
    if isinstance(data, (np.ndarray, np.generic)):
        return data if _is_string_or_object_array(np.asarray(data)) else from_numpy(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(value) for key, value in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):
        return [default_convert(d) for d in data]
    return data
