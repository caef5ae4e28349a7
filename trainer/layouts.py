"""``trainer.layout`` and ``trainer.strided``: PyTorch's memory-layout objects. trainer has one layout, the
dense strided array, so ``strided`` is the only instance."""


class layout:  # noqa: N801 - PyTorch's name
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"trainer.{self.name}"

    def __reduce__(self):  # a singleton: copies and pickles are the same object
        return self.name


strided = layout("strided")
