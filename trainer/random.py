"""Random number generators: one per device, seeded together by ``manual_seed``.

Streams are reproducible per device for a given seed; they are not bit-identical to PyTorch's. A generator's state
is a uint8 tensor (``Generator.get_state``, ``get_rng_state``) that ``set_state`` restores exactly, so the stream
continues with the same draws: the seed followed by the PCG64 counters on the CPU, or by the cuRAND state of every
GPU thread on CUDA.
"""

from __future__ import annotations

import contextlib

import numpy as np

from trainer.backend import as_device, device, get_xp
from trainer.meta_arrays import MetaRandomSource

_DEFAULT_SEED = 67280421310721  # PyTorch's default seed, so unseeded runs also start the same way
_WORD = np.dtype("<u8")  # the state's layout: little-endian 64-bit words, seen as bytes
_LOW_64 = 2**64 - 1


def _check_seed(seed) -> int:
    """``seed`` as PyTorch stores it: any 64-bit integer, negative ones wrapped around modulo 2**64."""
    seed = int(seed)
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"Overflow when unpacking long long: a seed must lie in [-2**63, 2**64), got {seed}")
    return seed & _LOW_64


class Generator:
    """``torch.Generator``: an explicitly seedable random stream bound to a device."""

    def __init__(self, device: str | device = "cpu"):
        self.device = as_device(device)
        self._seed = _DEFAULT_SEED
        self._rng = self._make(self._seed)

    def _make(self, seed: int):
        if self.device.type == "meta":
            return MetaRandomSource(seed)  # draws without values, so that init fills of meta tensors cost nothing
        xp = get_xp(self.device)
        if xp is np:
            return np.random.Generator(np.random.PCG64(seed))
        with xp.cuda.Device(self.device.index or 0):
            return xp.random.Generator(xp.random.XORWOW(seed))

    def manual_seed(self, seed: int) -> Generator:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise RuntimeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        self._seed = _check_seed(seed)
        self._rng = self._make(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2**63))).initial_seed()

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The state as a 1-D uint8 CPU tensor: the seed, then the bit generator's own state."""
        from trainer.tensor import Tensor  # trainer.tensor imports this module's users

        seed = np.array([self._seed], dtype=_WORD).view(np.uint8)
        return Tensor._wrap(np.concatenate([seed, self._bit_state()]))

    def set_state(self, new_state) -> Generator:
        """Restore a state returned by ``get_state`` of a generator on the same kind of device."""
        data = _state_bytes(new_state)
        expected = _WORD.itemsize + self._bit_state().size
        if data.size != expected:
            raise RuntimeError(f"Expected a {self.device.type} generator state of {expected} bytes, but found the "
                               f"input RNG state size to be {data.size}; pass a state from get_state() of a "
                               f"{self.device.type} generator")
        self._seed = int(data[:_WORD.itemsize].view(_WORD)[0])
        self._load_bit_state(data[_WORD.itemsize:])
        return self

    def _bit_state(self) -> np.ndarray:
        bits = self._rng.bit_generator
        if isinstance(bits, np.random.PCG64):
            state = bits.state
            counters = state["state"]
            words = [counters["state"] & _LOW_64, counters["state"] >> 64, counters["inc"] & _LOW_64,
                     counters["inc"] >> 64, state["has_uint32"], state["uinteger"]]
            return np.array(words, dtype=_WORD).view(np.uint8)
        # CuPy's cuRAND bit generators keep one state per GPU thread in a device buffer
        return get_xp(self.device).asnumpy(bits._state).view(np.uint8)

    def _load_bit_state(self, data: np.ndarray) -> None:
        bits = self._rng.bit_generator
        if isinstance(bits, np.random.PCG64):
            state, high_state, inc, high_inc, has_uint32, uinteger = (int(w) for w in data.view(_WORD))
            bits.state = {"bit_generator": "PCG64", "state": {"state": state | high_state << 64,
                                                              "inc": inc | high_inc << 64},
                          "has_uint32": has_uint32, "uinteger": uinteger}
            return
        xp = get_xp(self.device)
        with xp.cuda.Device(self.device.index or 0):
            bits._state[...] = xp.asarray(data.view(bits._state.dtype))

    @property
    def rng(self):
        """The underlying NumPy/CuPy generator that sampling routines draw from."""
        return self._rng


def _state_bytes(state) -> np.ndarray:
    """A state tensor's bytes, refusing anything that is not a uint8 tensor as PyTorch does."""
    from trainer.tensor import Tensor

    if not isinstance(state, Tensor):
        raise TypeError(f"expected a uint8 tensor (torch.ByteTensor) as the RNG state, but got {type(state).__name__}")
    if state._data.dtype != np.uint8:
        raise TypeError(f"RNG state must be a uint8 tensor (torch.ByteTensor), got dtype {state.dtype.name}")
    return np.ascontiguousarray(np.asarray(state.detach().cpu()._data).reshape(-1))


_default_generators: dict[device, Generator] = {}


def device_generator(dev: device) -> Generator:
    """The per-device default generator, created on first use with the current global seed."""
    gen = _default_generators.get(dev)
    if gen is None:
        gen = _default_generators[dev] = Generator(dev).manual_seed(_global_seed)
    return gen


_global_seed = _DEFAULT_SEED


def manual_seed(seed: int) -> Generator:
    """Seed every device's default generator, as ``torch.manual_seed`` does."""
    global _global_seed
    _global_seed = _check_seed(seed)
    for gen in _default_generators.values():
        gen.manual_seed(_global_seed)
    return device_generator(as_device("cpu"))


def initial_seed() -> int:
    return _global_seed


def seed() -> int:
    return manual_seed(int(np.random.SeedSequence().entropy % (2**63))).initial_seed()


def get_rng_state():
    """The default CPU generator's state, a uint8 tensor (``torch.get_rng_state``)."""
    return device_generator(as_device("cpu")).get_state()


def set_rng_state(new_state) -> None:
    """Restore the default CPU generator from a state returned by ``get_rng_state``."""
    device_generator(as_device("cpu")).set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, device_type: str = "cuda"):
    """Run a block whose draws leave the default streams as they were (``torch.random.fork_rng``): on exit the
    CPU generator and those of ``devices`` (indices of ``device_type`` devices; by default every such device
    used so far) get their states back, and generators first created inside the block are dropped."""
    if not enabled:
        yield
        return
    global _global_seed
    if devices is None:
        forked = [dev for dev in _default_generators if dev.type == device_type]
    else:
        forked = [device(device_type, int(index)) for index in devices]
    saved = {dev: device_generator(dev).get_state() for dev in [as_device("cpu"), *forked]}
    existing, seed_before = set(_default_generators), _global_seed
    try:
        yield
    finally:
        _global_seed = seed_before
        for dev in [dev for dev in _default_generators if dev not in existing]:
            del _default_generators[dev]
        for dev, state in saved.items():
            device_generator(dev).set_state(state)


default_generator = device_generator(as_device("cpu"))  # torch.default_generator: the CPU stream's Generator
