"""Random number generators: one per device, seeded together by ``manual_seed``.

Streams are reproducible per device for a given seed; they are not bit-identical to PyTorch's.
"""

from __future__ import annotations

import numpy as np

from trainer.backend import as_device, device, get_xp

_DEFAULT_SEED = 67280421310721  # PyTorch's default seed, so unseeded runs also start the same way


class Generator:
    """``torch.Generator``: an explicitly seedable random stream bound to a device."""

    def __init__(self, device: str | device = "cpu"):
        self.device = as_device(device)
        self._seed = _DEFAULT_SEED
        self._rng = self._make(self._seed)

    def _make(self, seed: int):
        xp = get_xp(self.device)
        if xp is np:
            return np.random.Generator(np.random.PCG64(seed))
        with xp.cuda.Device(self.device.index or 0):
            return xp.random.Generator(xp.random.XORWOW(seed))

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self._seed = seed
        self._rng = self._make(seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2**63))).initial_seed()

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return {"seed": self._seed, "state": self._rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self._seed = state["seed"]
        self._rng.bit_generator.state = state["state"]

    @property
    def rng(self):
        """The underlying NumPy/CuPy generator that sampling routines draw from."""
        return self._rng


_default_generators: dict[device, Generator] = {}


def default_generator(dev: device) -> Generator:
    """The per-device default generator, created on first use with the current global seed."""
    gen = _default_generators.get(dev)
    if gen is None:
        gen = _default_generators[dev] = Generator(dev).manual_seed(_global_seed)
    return gen


_global_seed = _DEFAULT_SEED


def manual_seed(seed: int) -> Generator:
    """Seed every device's default generator, as ``torch.manual_seed`` does."""
    global _global_seed
    _global_seed = int(seed)
    for gen in _default_generators.values():
        gen.manual_seed(seed)
    return default_generator(as_device("cpu"))


def initial_seed() -> int:
    return _global_seed


def seed() -> int:
    return manual_seed(int(np.random.SeedSequence().entropy % (2**63))).initial_seed()
