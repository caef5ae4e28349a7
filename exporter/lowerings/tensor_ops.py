"""Cast; a device move or a clone is an Identity (the identity pass removes it)."""

from exporter.emitter import onnx_dtype
from exporter.lowerings import lowering


@lowering("Cast")
def cast(g, a, to):
    return g.op("Cast", a, to=onnx_dtype(to.np))


@lowering("ToDevice", "Clone")
def identity(g, a, **_):
    return g.op("Identity", a)
