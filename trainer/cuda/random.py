"""Seeding and RNG state of the CUDA devices' default generators, as ``torch.cuda``'s random functions.

Without CUDA, seeding and setting a state are silent no-ops and the "all devices" getters return empty lists, as in
PyTorch's CPU-only build (which queues them until CUDA starts, and it never does); reading one device's seed or state
raises, as there.
"""

from __future__ import annotations

import numpy as np

from trainer.backend import cupy_available, device
from trainer.cuda.device_management import current_device, device_count, device_index, require_cuda
from trainer.random import device_generator


def _generator(spec="cuda"):
    require_cuda()
    return device_generator(device("cuda", device_index(spec)))


def manual_seed(seed: int) -> None:
    """Seed the current CUDA device's generator (a no-op without CUDA, as in PyTorch)."""
    seed = int(seed)
    if cupy_available():
        device_generator(device("cuda", current_device())).manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    seed = int(seed)
    for index in range(device_count()):
        device_generator(device("cuda", index)).manual_seed(seed)


def seed() -> None:
    """Reseed the current device's generator from fresh entropy (a no-op without CUDA)."""
    if cupy_available():
        device_generator(device("cuda", current_device())).seed()


def seed_all() -> None:
    """Reseed every device's generator with one fresh random seed (a no-op without CUDA)."""
    manual_seed_all(int(np.random.SeedSequence().entropy % (2**63)))


def initial_seed() -> int:
    """The seed of the current device's generator."""
    return _generator().initial_seed()


def get_rng_state(device="cuda"):  # noqa: A002 - PyTorch's parameter name
    """The state of ``device``'s generator as a uint8 CPU tensor."""
    return _generator(device).get_state()


def set_rng_state(new_state, device="cuda") -> None:  # noqa: A002
    """Restore ``device``'s generator from a state returned by ``get_rng_state``."""
    from trainer.tensor import Tensor  # trainer.tensor loads after trainer.cuda

    if not isinstance(new_state, Tensor):
        raise TypeError(f"expected a uint8 tensor (torch.ByteTensor) as the RNG state, but got "
                        f"{type(new_state).__name__}")
    if cupy_available():
        _generator(device).set_state(new_state)


def get_rng_state_all() -> list:
    return [get_rng_state(index) for index in range(device_count())]


def set_rng_state_all(new_states) -> None:
    for index, state in enumerate(new_states):
        set_rng_state(state, index)
