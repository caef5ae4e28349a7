"""``trainer.special``: PyTorch's ``torch.special`` namespace, over the ops in ``trainer.ops``."""

from trainer.ops.activation import log_softmax, softmax
from trainer.ops.elementwise import logit, sinc, xlogy
from trainer.ops.reduce import logsumexp
from trainer.ops.special import (
    digamma,
    entr,
    erfcx,
    erfinv,
    i0,
    i0e,
    i1,
    i1e,
    log_ndtr,
    ndtr,
    ndtri,
    polygamma,
    xlog1py,
)
from trainer.ops.special import lgamma as gammaln
from trainer.ops.special import mvlgamma as multigammaln
from trainer.ops.transcendental import erfc, exp2, expm1, log1p
from trainer.ops.unary import erf, round
from trainer.ops.unary import sigmoid as expit

psi = digamma

__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i0e",
           "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy"]
