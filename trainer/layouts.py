"""``trainer.layout`` and its instances: PyTorch's memory-layout objects. ``strided`` is the dense array,
``sparse_coo`` the sparse COO storage of ``trainer.sparse_tensor.SparseTensor``."""


class layout:  # noqa: N801 - PyTorch's name
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"trainer.{self.name}"

    def __reduce__(self):  # a singleton: copies and pickles are the same object
        return self.name


strided = layout("strided")
sparse_coo = layout("sparse_coo")  # trainer.sparse_tensor.SparseTensor
sparse_csr = layout("sparse_csr")  # trainer.compressed_sparse_tensor.SparseCompressedTensor, rows compressed
sparse_csc = layout("sparse_csc")  # the same, columns compressed
sparse_bsr = layout("sparse_bsr")  # the same, rows of blocks compressed
sparse_bsc = layout("sparse_bsc")  # the same, columns of blocks compressed
jagged = layout("jagged")  # trainer.nested.NestedTensor: packed values, one ragged dim
