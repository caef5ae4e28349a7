"""Conv and ConvTranspose; trainer's attributes are already ONNX's (pads: all begins, then all ends)."""

from exporter.lowerings import lowering


@lowering("Conv")
def conv(g, x, weight, bias=None, *, stride, pads, dilation, groups):
    return g.op("Conv", x, weight, bias or "", kernel_shape=list(g.shape(weight)[2:]), strides=list(stride),
                pads=list(pads), dilations=list(dilation), group=groups)


@lowering("ConvTranspose")
def conv_transpose(g, x, weight, bias=None, *, stride, pads, output_padding, dilation, groups):
    return g.op("ConvTranspose", x, weight, bias or "", kernel_shape=list(g.shape(weight)[2:]),
                strides=list(stride), pads=list(pads), output_padding=list(output_padding),
                dilations=list(dilation), group=groups)
