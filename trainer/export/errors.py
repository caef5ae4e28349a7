"""The exceptions ``trainer.export.export`` raises, named (and typed) as torch.export's."""


class UserError(RuntimeError):
    """The arguments of ``export`` do not fit the model or each other (``torch._dynamo.exc.UserError``)."""


class ConstraintViolationError(RuntimeError):
    """An example input does not satisfy the ``dynamic_shapes`` declared for it."""


class GuardOnDataDependentSymNode(RuntimeError):  # noqa: N818 - torch's name
    """The traced program branched on a value computed from tensor data, which one graph cannot record."""
