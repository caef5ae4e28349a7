"""sort, argsort, topk and kthvalue as TopK; for sort, k is the sorted dim's size, read at run time.

TopK keeps the lower index first among equal values, which is trainer's stable order.
"""

from exporter.lowerings import lowering


@lowering("Sort")
def sort(g, a, dim, descending=False):
    return g.op("TopK", a, g.dims(a, [dim]), axis=dim, largest=int(descending), sorted=1, outputs=2)


@lowering("TopK")
def top_k(g, a, k, dim, largest=True):
    return g.op("TopK", a, g.ints([k]), axis=dim, largest=int(largest), sorted=1, outputs=2)


@lowering("KthValue")
def kth_value(g, a, k, dim, keepdim=False):
    smallest = g.op("TopK", a, g.ints([k]), axis=dim, largest=0, sorted=1, outputs=2)
    kth = [g.op("Slice", out, g.ints([k - 1]), g.ints([k]), g.ints([dim])) for out in smallest]
    return tuple(kth) if keepdim else tuple(g.op("Squeeze", out, g.ints([dim])) for out in kth)
