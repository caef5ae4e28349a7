"""``trainer.ao.ns``: PyTorch's "numeric suite" namespace; the eager-mode tools that compare a float model with its
quantized version are in ``trainer.ao.ns._numeric_suite``, as in PyTorch."""
