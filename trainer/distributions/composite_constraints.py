"""The constraints of ``torch.distributions.constraints`` that are built from others or from matrix rows: ``cat``
and ``stack`` (one constraint per slice of a dim, for ``CatTransform`` and ``StackTransform``), ``corr_cholesky``
(Cholesky factors of correlation matrices) and ``multinomial`` (counts with a bounded total). They are reachable
as ``constraints.cat`` and so on."""

from __future__ import annotations

from trainer.distributions.constraints import Constraint, lower_cholesky
from trainer.ops.join import cat as cat_tensors
from trainer.ops.join import stack as stack_tensors
from trainer.type_info import array_finfo

__all__ = ["cat", "corr_cholesky", "multinomial", "stack"]


def _check_dim(dim: int, value) -> None:
    if not -value.dim() <= dim < value.dim():
        raise AssertionError(f"dim {dim} is out of range for a value with {value.dim()} dimensions")


class _Cat(Constraint):
    """``cseq[i]`` holding on the i-th block of ``lengths[i]`` entries along ``dim``, as laid out by ``cat``."""

    def __init__(self, cseq, dim=0, lengths=None):
        if not all(isinstance(c, Constraint) for c in cseq):
            raise AssertionError("All elements of cseq must be Constraint instances")
        self.cseq = list(cseq)
        self.lengths = [1] * len(self.cseq) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.cseq):
            raise AssertionError(f"lengths ({len(self.lengths)}) must match cseq ({len(self.cseq)})")
        self.dim = dim
        super().__init__()

    @property
    def is_discrete(self) -> bool:
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self) -> int:
        return max(c.event_dim for c in self.cseq)

    def check(self, value):
        _check_dim(self.dim, value)
        checks, start = [], 0
        for constraint, length in zip(self.cseq, self.lengths):
            checks.append(constraint.check(value.narrow(self.dim, start, length)))
            start += length
        return cat_tensors(checks, self.dim)


class _Stack(Constraint):
    """``cseq[i]`` holding on ``value.select(dim, i)``, as laid out by ``stack``."""

    def __init__(self, cseq, dim=0):
        if not all(isinstance(c, Constraint) for c in cseq):
            raise AssertionError("All elements of cseq must be Constraint instances")
        self.cseq = list(cseq)
        self.dim = dim
        super().__init__()

    @property
    def is_discrete(self) -> bool:
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self) -> int:
        dim = max(c.event_dim for c in self.cseq)
        if self.dim + dim < 0:
            dim += 1
        return dim

    def check(self, value):
        _check_dim(self.dim, value)
        slices = [value.select(self.dim, i) for i in range(value.shape[self.dim])]
        return stack_tensors([c.check(v) for v, c in zip(slices, self.cseq)], self.dim)


class _CorrCholesky(Constraint):
    """Lower-triangular matrices with a positive diagonal whose rows have unit length (to ``10 n eps``)."""

    event_dim = 2

    def check(self, value):
        tol = float(array_finfo(value.dtype.np).eps) * value.shape[-1] * 10
        row_norm = value.detach().pow(2).sum(-1).sqrt()
        return lower_cholesky.check(value) & ((row_norm - 1.0).abs() <= tol).all(-1)


class _Multinomial(Constraint):
    """Non-negative counts whose sum over the last dim is at most ``upper_bound`` (PyTorch's weaker check)."""

    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound
        super().__init__()

    def check(self, value):
        return (value >= 0).all(-1) & (value.sum(-1) <= self.upper_bound)


cat = _Cat
stack = _Stack
corr_cholesky = _CorrCholesky()
multinomial = _Multinomial
