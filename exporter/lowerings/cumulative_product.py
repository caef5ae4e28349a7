"""``cumprod`` as ONNX's CumProd from opset 26; below, as a Scan that multiplies a running product by one slice
at a time: the same products in the same order as trainer's, so exact (``Exp(CumSum(Log))`` would not be).
"""

import numpy as np
from onnx import TensorProto, helper

from exporter.emitter import onnx_dtype
from exporter.lowerings import lowering


def _product_scan_body(g, elem_type: int):
    """The Scan body ``(product, slice) -> (product * slice, product * slice)``."""
    product, item, updated, out = (g.fresh(f"cumprod_{part}") for part in ("product", "slice", "updated", "out"))
    return helper.make_graph(
        [helper.make_node("Mul", [product, item], [updated]), helper.make_node("Identity", [updated], [out])],
        g.fresh("cumprod_body"),
        [helper.make_tensor_value_info(product, elem_type, None), helper.make_tensor_value_info(item, elem_type, None)],
        [helper.make_tensor_value_info(updated, elem_type, None), helper.make_tensor_value_info(out, elem_type, None)])


@lowering("CumProd")
def cum_prod(g, a, dim):
    dtype, others = g.dtype(a), [d for d in range(g.rank(a)) if d != dim]
    if dtype.kind in "biu":  # integer and bool products accumulate in int64, as in PyTorch
        a, dtype = g.op("Cast", a, to=TensorProto.INT64), np.dtype(np.int64)
    if g.opset >= 26:
        return g.op("CumProd", a, g.const(np.int64(dim)))
    # the running product starts as ones shaped as a without dim
    ones = g.op("Expand", g.const(np.ones((), dtype=dtype)), g.dims(a, others) if others else g.ints([]))
    _, products = g.op("Scan", ones, a, body=_product_scan_body(g, onnx_dtype(dtype)), num_scan_inputs=1,
                       scan_input_axes=[dim], scan_output_axes=[dim], outputs=2)
    return products
