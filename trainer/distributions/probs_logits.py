"""Mixins for the families given either success probabilities or their logits (Bernoulli, Geometric, Binomial,
the relaxed Bernoulli, ...) or category weights over the last dim (Categorical, Multinomial, the relaxed
categorical): the one given is stored, the other derived lazily, and ``expand`` expands whichever is stored."""

from __future__ import annotations

from trainer.distributions.utils import broadcast_all, lazy_property, logits_to_probs, probs_to_logits
from trainer.tensor import Size

__all__ = ["BinaryProbsOrLogits", "CategoricalProbsOrLogits", "choose_probs_or_logits"]


def choose_probs_or_logits(probs, logits):
    """``("probs", probs)`` or ``("logits", logits)``: exactly one of them must be given."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    return ("probs", probs) if probs is not None else ("logits", logits)


class BinaryProbsOrLogits:
    """Success probabilities ``probs`` in [0, 1] or their log-odds ``logits``, one per batch entry."""

    _is_binary = True

    def _store_param(self, name: str, param) -> None:
        setattr(self, name, param)
        self._param = param

    def _init_probs_or_logits(self, probs, logits) -> Size:
        """Store the given parameter as a tensor; returns its shape (the batch shape)."""
        name, given = choose_probs_or_logits(probs, logits)
        (param,) = broadcast_all(given)
        self._store_param(name, param)
        return param.shape

    def _init_counted_probs_or_logits(self, total_count, probs, logits) -> Size:
        """As ``_init_probs_or_logits``, with a ``total_count`` of trials broadcast with the parameter (and of its
        dtype)."""
        name, given = choose_probs_or_logits(probs, logits)
        total_count, param = broadcast_all(total_count, given)
        self.total_count = total_count.type_as(param)
        self._store_param(name, param)
        return param.shape

    def _expand_probs_or_logits(self, new, param_shape) -> None:
        """Give ``new`` this distribution's stored parameter(s) (and ``total_count`` where there is one), expanded
        to ``param_shape``."""
        for name in ("probs", "logits"):
            if name in self.__dict__:
                new._store_param(name, self.__dict__[name].expand(param_shape))
        if "total_count" in self.__dict__:
            new.total_count = self.total_count.expand(param_shape)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=self._is_binary)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=self._is_binary)

    @property
    def param_shape(self) -> Size:
        return self._param.shape


class CategoricalProbsOrLogits(BinaryProbsOrLogits):
    """Category weights over the last dim: ``probs`` (normalised to sum to 1) or ``logits`` (normalised to
    log-probabilities); ``_num_events`` is the number of categories."""

    _is_binary = False

    def _init_probs_or_logits(self, probs, logits) -> Size:
        """Store the normalised parameter; returns the batch shape (all but the last dim)."""
        name, given = choose_probs_or_logits(probs, logits)
        if given.dim() < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        param = given / given.sum(-1, keepdim=True) if name == "probs" else given - given.logsumexp(-1, keepdim=True)
        self._store_param(name, param)
        self._num_events = param.shape[-1]
        return param.shape[:-1]

    def _expand_probs_or_logits(self, new, batch_shape) -> None:
        super()._expand_probs_or_logits(new, (*batch_shape, self._num_events))
        new._num_events = self._num_events
