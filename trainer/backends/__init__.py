"""``trainer.backends``: the backend switches PyTorch scripts set (``backends.cudnn.benchmark = True``, ...)."""

from trainer.backends import cpu, cuda, cudnn, mkl, mkldnn, mps, nnpack, openmp, opt_einsum, quantized

__all__ = ["cuda", "cudnn", "mps", "quantized"]
__all__ += ["cpu", "mkl", "mkldnn", "nnpack", "openmp", "opt_einsum"]
