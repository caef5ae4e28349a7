"""Embedding lookup as Gather of the weight's rows."""

from exporter.lowerings import lowering


@lowering("Embedding")
def embedding(g, indices, weight, **_):
    return g.op("Gather", weight, indices, axis=0)
