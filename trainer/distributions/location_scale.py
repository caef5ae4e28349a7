"""What the ``loc``/``scale`` families (``Normal``, ``Laplace``) share: their parameters, broadcast together,
``expand``, and a mean and mode at ``loc``."""

from __future__ import annotations

import numbers

from trainer.distributions import constraints
from trainer.distributions.distribution import Distribution
from trainer.distributions.utils import broadcast_all
from trainer.tensor import Size


class LocationScale(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        scalar = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        super().__init__(Size() if scalar else self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        # a user's subclass with an __init__ of its own must bring an expand of its own, as in PyTorch
        family = next(cls for cls in type(self).__mro__ if LocationScale in cls.__bases__)
        new = self._get_checked_instance(family, _instance)
        batch_shape = Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc
