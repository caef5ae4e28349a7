# ruff: noqa - part of the shortened copies of upstream PyTorch programs
"""A tiny deterministic stand-in for gym's CartPole, for pytorch/examples' reinforcement_learning programs: the
same interface (``reset(seed=...)`` -> (state, info), ``step(action)`` -> (state, reward, terminated, truncated,
info), ``spec.reward_threshold``), a 4-number float64 state, reward 1 per step. The pole "falls" (the episode ends)
at the fifth action that disagrees with the sign of ``state[0]`` (so that an episode has at least 5
steps, as CartPole's have several); an episode lasts at most 50 steps."""

import types

import numpy as np


class BalanceEnv:
    max_steps = 50
    max_wrong = 5
    spec = types.SimpleNamespace(reward_threshold=40.0)

    def __init__(self):
        self._rng = np.random.default_rng(0)

    def reset(self, seed=None):
        if seed is not None:  # as gym's: without a seed, the next episode continues the generator
            self._rng = np.random.default_rng(seed)
        self._steps = self._wrong = 0
        self._state = self._rng.uniform(-1, 1, 4)
        return self._state, {}

    def step(self, action):
        correct = int(self._state[0] > 0)
        self._steps += 1
        self._wrong += action != correct
        self._state = self._rng.uniform(-1, 1, 4)
        terminated = self._wrong == self.max_wrong or self._steps >= self.max_steps
        return self._state, 1.0, terminated, False, {}


def make(name):
    return BalanceEnv()


gym = types.SimpleNamespace(make=make)  # what the programs call it: ``gym.make('CartPole-v1')``
