"""``trainer.backends``: the backend switches PyTorch scripts set (``backends.cudnn.benchmark = True``, ...)."""

from trainer.backends import cuda, cudnn, mps, quantized

__all__ = ["cuda", "cudnn", "mps", "quantized"]
