"""``torch.nn.utils.parametrizations``: ``orthogonal``, ``spectral_norm`` and ``weight_norm`` registered through
``parametrize``, so the stored tensors are ``parametrizations.<name>.original`` (``original0``/``original1`` for
weight norm's ``g`` and ``v``) as in PyTorch's checkpoints."""

from __future__ import annotations

from enum import Enum, auto

from trainer import linalg
from trainer.autograd import no_grad
from trainer.creation import eye, randn, zeros_like
from trainer.linalg import householder_product, matrix_exp
from trainer.nn.functional import normalize
from trainer.nn.modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from trainer.nn.modules.module import Module
from trainer.nn.utils import parametrize
from trainer.nn.utils.orthogonal_maps import geqrf, is_orthogonal, make_orthogonal
from trainer.nn.utils.weight_norm import norm_except_dim, weight_norm_of
from trainer.ops.join import cat
from trainer.tensor import Tensor

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    """Maps an unconstrained matrix to one with orthonormal columns (or rows, for a wide one). With
    ``use_trivialization`` the result is ``base @ map(X)``, ``base`` being the orthogonal matrix last assigned."""

    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *, use_trivialization: bool = True) -> None:
        super().__init__()
        if weight.is_complex() and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:  # noqa: N803 - PyTorch's name
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X = X.mT  # noqa: N806
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()  # noqa: N806 - the upper triangle carries no parameters
            if n != k:  # embed the tall matrix into a square one
                X = cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)  # noqa: N806
            skew = X - X.mT
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = matrix_exp(skew)  # noqa: N806
            else:  # the Cayley retraction (I + A/2)(I - A/2)^-1
                ident = eye(n, dtype=skew.dtype, device=skew.device)
                Q = linalg.solve(ident - 0.5 * skew, ident + 0.5 * skew)  # noqa: N806
            if n != k:
                Q = Q[..., :k]  # noqa: N806
        else:
            reflectors = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (reflectors * reflectors).sum(dim=-2))
            # the diagonal of X holds signs (+-1) that are neither differentiated nor updated
            signs = X.diagonal(dim1=-2, dim2=-1).detach().int().to(X.dtype).unsqueeze(-2)
            Q = householder_product(reflectors, tau) * signs  # noqa: N806
        if "base" in self._buffers:
            Q = self.base @ Q  # noqa: N806
        return Q.mT if transposed else Q

    @no_grad()
    def right_inverse(self, Q: Tensor) -> Tensor:  # noqa: N803 - PyTorch's name
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        q_init = Q
        n, k = Q.size(-2), Q.size(-1)
        transpose = n < k
        if transpose:
            Q = Q.mT  # noqa: N806
            n, k = k, n
        if "base" not in self._buffers:
            if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                raise NotImplementedError("It is not possible to assign to the matrix exponential or the Cayley "
                                          "parametrizations when use_trivialization=False.")
            # the reflectors of Q's QR, with diag(R) > 0 written as the signs the forward reads
            packed, tau = geqrf(Q)
            signs = packed.diagonal(dim1=-2, dim2=-1).sign()
            signs = signs * (1 - 2 * (tau == 0.0).to(signs.dtype))  # LAPACK skipped that reflection
            diagonal = eye(n, k, dtype=Q.dtype, device=Q.device)
            packed = packed * (1 - diagonal) + signs.unsqueeze(-2) * diagonal
            return packed.mT if transpose else packed
        if n == k:
            Q = Q.clone() if is_orthogonal(Q) else make_orthogonal(Q)  # noqa: N806
        else:  # complete Q into a full n x n orthogonal matrix
            completion = randn(*Q.shape[:-2], n, n - k, dtype=Q.dtype, device=Q.device)
            Q = make_orthogonal(cat([Q, completion], dim=-1))  # noqa: N806
        self.base = Q
        # -Id: then the Householder map of it is the identity, and base @ map(X) is base's first k columns
        return zeros_like(q_init) - eye(q_init.size(-2), q_init.size(-1), dtype=q_init.dtype, device=q_init.device)


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Constrain ``module.<name>`` (a matrix or batch of matrices) to have orthonormal columns or rows, through
    ``"matrix_exp"`` (default for square matrices), ``"cayley"`` or ``"householder"`` (default otherwise)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.size(-2) == weight.size(-1)
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


class _WeightNorm(Module):
    """``weight = g * v / ||v||``, the norm taken over every dim but ``dim`` (over all of them for ``dim=None``)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_norm_of(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize ``module.<name>`` by a magnitude ``original0`` (``g``) and a direction ``original1``
    (``v``)."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """``weight / sigma`` with ``sigma`` the largest singular value of the weight (seen as a matrix with ``dim``
    first), estimated by power iteration on the ``_u``/``_v`` buffers, one step per training-mode access."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:  # a vector's norm is exact: nothing to estimate
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.size()
            self.register_buffer("_u", normalize(randn(h, dtype=weight.dtype, device=weight.device), dim=0, eps=eps))
            self.register_buffer("_v", normalize(randn(w, dtype=weight.dtype, device=weight.device), dim=0, eps=eps))
            # start from reasonable singular vectors
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.flatten(1)

    @no_grad()
    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        # in place, so that the buffers other references hold (state_dict, copies) see the update
        for _ in range(n_power_iterations):
            self._u.copy_(normalize(weight_mat.mv(self._v), dim=0, eps=self.eps))
            self._v.copy_(normalize(weight_mat.mT.mv(self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        # clones: a later step's in-place update must not change what this graph saved (GAN's D(real) - D(fake))
        u, v = self._u.clone(), self._v.clone()
        sigma = u.vdot(weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Divide ``module.<name>`` by its spectral norm at every access (``dim`` defaults to 1 for transposed
    convolutions, whose output channels are dim 1, and 0 otherwise)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
