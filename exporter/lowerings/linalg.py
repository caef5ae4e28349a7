"""MatMul, Linear as Gemm (2-D input) or MatMul + Add (batched input), and Einsum."""

from exporter.lowerings import lowering


@lowering("MatMul")
def matmul(g, a, b):
    return g.op("MatMul", a, b)


@lowering("Linear")
def linear(g, x, weight, bias=None):
    if g.rank(x) == 2:
        return g.op("Gemm", x, weight, bias or "", transB=1)
    out = g.op("MatMul", x, g.op("Transpose", weight, perm=[1, 0]))
    return out if bias is None else g.op("Add", out, bias)


@lowering("Einsum")
def einsum(g, *operands, equation):
    return g.op("Einsum", *operands, equation=equation)


@lowering("Det")
def det(g, a):
    return g.op("Det", a)
