"""Random draws under ``vmap`` and ``jacfwd``: noticed, refused or repeated through the states of trainer's
default generators (one per device), since trainer's random ops do not know they run under a transform.

A draw from a ``Generator`` the caller created and passed explicitly is not seen."""

from __future__ import annotations

import contextlib

import numpy as np

from trainer import random

RANDOM_IN_ERROR_MODE = ("vmap: called random operation while in randomness error mode. Please either use the 'same' "
                        "or 'different' randomness flags on vmap or perform the randomness operation out of vmap")


class GeneratorStates:
    """The states of every default generator created so far, to compare against later or go back to."""

    def __init__(self):
        self._states = {dev: gen.get_state() for dev, gen in random._default_generators.items()}

    def changed(self) -> bool:
        """Whether something drew from a default generator (or created one, which only sampling does) since."""
        current = random._default_generators
        if current.keys() != self._states.keys():
            return True
        return any(not np.array_equal(current[dev].get_state().numpy(), state.numpy())
                   for dev, state in self._states.items())

    def restore(self) -> None:
        """Put every default generator back as it was, forgetting those created since."""
        for dev in [dev for dev in random._default_generators if dev not in self._states]:
            del random._default_generators[dev]
        for dev, state in self._states.items():
            random._default_generators[dev].set_state(state)


@contextlib.contextmanager
def check_no_random_draws():
    """Run a block that must not draw random numbers (``randomness="error"``): PyTorch's error if it does, with
    the generators put back as they were, as if the draw had been refused."""
    before = GeneratorStates()
    yield
    if before.changed():
        before.restore()
        raise RuntimeError(RANDOM_IN_ERROR_MODE)
