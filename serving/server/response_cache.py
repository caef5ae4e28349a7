"""Triton's response cache: the outputs of earlier requests, answered again without running the model.

A request's key hashes what decides its result: the loaded model version, every input's name, datatype,
shape and bytes, and the requested outputs with their classification counts. The cache holds at most
`capacity` bytes of output data and drops the least recently used entries to make room, as Triton's
`local` cache does. A model takes part only when its config sets `response_cache { enable: true }`.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import weakref
from collections import OrderedDict

import numpy as np

from serving.server import tensors

# What the cache keeps of a response: the (name, datatype, value) outputs a front end encodes.
CachedOutputs = list[tuple[str, str, np.ndarray]]

CACHE_CONFIG_HELP = "local,size=<bytes>"


def parse_cache_config(settings: list[str]) -> int:
    """The cache size in bytes from `--cache-config` values (Triton's `<cache>,<key>=<value>` syntax)."""
    size = None
    for setting in settings:
        name, _, rest = setting.partition(",")
        if name != "local":
            raise ValueError(f"--cache-config {setting!r}: sardonyx-serve offers only the 'local' cache "
                             f"(expected {CACHE_CONFIG_HELP})")
        for pair in filter(None, rest.split(",")):
            key, equals, value = pair.partition("=")
            if key != "size" or not equals:
                raise ValueError(f"--cache-config {setting!r}: unknown setting {pair!r} for the 'local' cache "
                                 f"(expected {CACHE_CONFIG_HELP})")
            if not value.isdigit():
                raise ValueError(f"--cache-config {setting!r}: size must be a number of bytes, got {value!r}")
            size = int(value)
    if size is None:
        raise ValueError(f"--cache-config needs the cache's size: {CACHE_CONFIG_HELP}")
    return size


def enabled_for(model) -> bool:
    return model.config.response_cache.enable


class ResponseCache:
    """A thread-safe LRU map from request keys to outputs, bounded by the bytes of the outputs it holds."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._entries: OrderedDict[bytes, tuple[CachedOutputs, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        # A key names the loaded model object, so that a reloaded version never answers with the old one's outputs.
        self._tokens: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._serial = itertools.count()

    @property
    def size(self) -> int:
        """Bytes of output data held now."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, model, inputs: dict[str, np.ndarray], outputs: list[str], counts: dict[str, int]) -> bytes:
        with self._lock:
            token = self._tokens.get(model)
            if token is None:
                token = self._tokens[model] = next(self._serial)
        digest = hashlib.blake2b(digest_size=32)
        digest.update(f"{model.name}\0{model.version}\0{token}\0".encode())
        for name in sorted(inputs):
            array = inputs[name]
            digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
            data = tensors.to_raw(array, "BYTES") if array.dtype == object else np.ascontiguousarray(array).data
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
        for name in outputs:
            digest.update(f"{name}\0{counts.get(name, 0)}\0".encode())
        return digest.digest()

    def lookup(self, key: bytes) -> CachedOutputs | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def insert(self, key: bytes, outputs: CachedOutputs) -> bool:
        """Keep `outputs` under `key`, evicting the least recently used entries; False if they can never fit."""
        size = sum(_nbytes(value) for _, _, value in outputs)
        if size > self.capacity:
            return False
        # The front ends only read outputs; copies keep a cached entry safe from any later write to the originals.
        kept = [(name, datatype, value.copy()) for name, datatype, value in outputs]
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return True
            while self._size + size > self.capacity:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._size -= evicted
            self._entries[key] = (kept, size)
            self._size += size
        return True


def _nbytes(value: np.ndarray) -> int:
    if value.dtype == object:  # BYTES: the strings themselves
        return sum(len(item) if isinstance(item, bytes) else len(str(item).encode()) for item in value.reshape(-1))
    return value.nbytes
