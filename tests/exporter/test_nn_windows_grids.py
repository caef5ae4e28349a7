"""Exporting the sliding-window, sampling-grid, unpooling and normalisation layers of part 1: each model round-trips
through ONNX Runtime and serving on its example and at other batch sizes, with the ONNX operators the layers are
meant to become (Col2Im, GridSample, AffineGrid, MaxUnpool, LRN, Resize), and the opsets they need."""

import pytest

import trainer
from exporter import export
from exporter.errors import OpsetError
from tests.exporter.function_module import Fn
from trainer import nn

F = trainer.nn.functional
BATCHES = ({0: 1}, {0: 3})
pytestmark = pytest.mark.filterwarnings("ignore:`nn.functional.upsample` is deprecated")


class PoolUnpool(nn.Module):
    """Max pooling with indices, then unpooling them (to ``output_size`` when given)."""

    def __init__(self, n, kernel_size, stride=None, padding=0, output_size=None, ceil_mode=False):
        super().__init__()
        self.pool = getattr(nn, f"MaxPool{n}d")(kernel_size, stride, padding, return_indices=True, ceil_mode=ceil_mode)
        self.unpool = getattr(nn, f"MaxUnpool{n}d")(kernel_size, stride, padding)
        self.output_size = output_size

    def forward(self, x):
        values, indices = self.pool(x)
        return self.unpool(values, indices, output_size=self.output_size)


class SpatialTransformer(nn.Module):
    """A learnt affine transform per sample: affine_grid from a parameter expanded to the batch, then grid_sample."""

    def __init__(self, dims, mode="bilinear", padding_mode="zeros", align_corners=False):
        super().__init__()
        identity = trainer.cat([trainer.eye(dims), trainer.zeros(dims, 1)], 1)
        self.theta = nn.Parameter((identity + 0.3 * trainer.randn(dims, dims + 1)).unsqueeze(0))
        self.options = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)

    def forward(self, x):
        theta = self.theta.expand(x.shape[0], *self.theta.shape[1:])
        grid = F.affine_grid(theta, x.shape, align_corners=self.options["align_corners"])
        return F.grid_sample(x, grid * 1.3, **self.options)  # * 1.3: some points fall outside, into the padding


def _op_types(proto):
    return {node.op_type for node in proto.graph.node}


MODELS = {  # name: (model, example shape, an ONNX operator the export must use)
    "unfold": (lambda: nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), (2, 3, 6, 7), "Slice"),
    "unfold_then_fold": (lambda: nn.Sequential(nn.Unfold(3, padding=1, stride=2), nn.Fold((6, 7), 3, padding=1,
                                                                                          stride=2)),
                         (2, 3, 6, 7), "Col2Im"),
    "fold_dilated": (lambda: nn.Sequential(nn.Flatten(2), nn.Fold((4, 5), 2, dilation=(2, 1))), (2, 8, 4, 2), "Col2Im"),
    "max_unpool1d": (lambda: nn.Sequential(nn.Flatten(2), PoolUnpool(1, 3, 2, 1, output_size=[12])), (2, 3, 3, 4),
                     "MaxUnpool"),
    "max_unpool2d": (lambda: PoolUnpool(2, 2), (2, 3, 6, 8), "MaxUnpool"),
    "max_unpool2d_larger_output": (lambda: PoolUnpool(2, 2, output_size=(7, 9)), (2, 3, 7, 9), "MaxUnpool"),
    "max_unpool2d_ceil_smaller_output": (lambda: PoolUnpool(2, 2, ceil_mode=True, output_size=(5, 7)), (2, 3, 5, 7),
                                         "MaxUnpool"),
    "max_unpool2d_padded_below_pooled_size": (lambda: PoolUnpool(2, 2, 1, 1), (2, 3, 5, 6), "MaxUnpool"),
    "max_unpool3d": (lambda: PoolUnpool(3, 2, (2, 1, 2)), (2, 3, 4, 3, 6), "MaxUnpool"),
    "lp_pool1d": (lambda: nn.Sequential(nn.Flatten(2), nn.LPPool1d(2, 3, stride=2)), (2, 3, 3, 4), "AveragePool"),
    "lp_pool2d_ceil": (lambda: nn.LPPool2d(4, (2, 3), stride=(1, 2), ceil_mode=True), (2, 3, 6, 7), "AveragePool"),
    "lp_pool3d_inf": (lambda: nn.LPPool3d(float("inf"), 2), (2, 3, 4, 4, 4), "MaxPool"),
    "local_response_norm_odd": (lambda: nn.LocalResponseNorm(3, alpha=0.5, beta=0.7, k=1.2), (2, 5, 3, 4), "LRN"),
    "local_response_norm_even": (lambda: nn.LocalResponseNorm(4, alpha=0.5, beta=0.7, k=1.2), (2, 6, 3, 4),
                                 "MatMul"),
    "local_response_norm_3d": (lambda: nn.Sequential(nn.Flatten(2), nn.LocalResponseNorm(3, alpha=0.5)), (2, 5, 3, 4),
                               "MatMul"),
    "cross_map_lrn2d": (lambda: nn.CrossMapLRN2d(3, alpha=0.5, beta=0.7, k=1.2), (2, 6, 3, 4), "MatMul"),
    "channel_shuffle": (lambda: nn.ChannelShuffle(3), (2, 6, 3, 4), "Transpose"),
    "upsampling_nearest2d": (lambda: nn.UpsamplingNearest2d(scale_factor=2), (2, 3, 4, 5), "Resize"),
    "upsampling_bilinear2d": (lambda: nn.UpsamplingBilinear2d(scale_factor=2), (2, 3, 4, 5), "Resize"),
    "upsampling_bilinear2d_size": (lambda: nn.UpsamplingBilinear2d(size=(7, 3)), (2, 3, 4, 5), "Resize"),
    "upsample_bilinear_fractional": (lambda: Fn(lambda x: F.upsample(x, scale_factor=1.7, mode="bilinear")),
                                     (2, 3, 4, 5), "Resize"),
    # float32(0.7) * 10 < 7: the scale Resize reads must be nudged to keep PyTorch's output size
    "upsample_bilinear_scale_below_float32": (lambda: Fn(lambda x: F.upsample(x, scale_factor=(0.7, 1.1),
                                                                             mode="bilinear")),
                                              (2, 3, 10, 10), "Resize"),
    "upsample_linear": (lambda: Fn(lambda x: F.upsample(x.flatten(2), size=9, mode="linear")), (2, 3, 2, 3), "Resize"),
    "upsample_trilinear": (lambda: Fn(lambda x: F.upsample(x, size=(3, 5, 2), mode="trilinear", align_corners=True)),
                           (2, 3, 2, 3, 4), "Resize"),
    "pdist_rows": (lambda: Fn(lambda x: (F.pdist(x.flatten(1)), F.pdist(x.flatten(1), 3))), (4, 3, 2, 2), "Compress"),
    "pdist_other_norms": (lambda: Fn(lambda x: (F.pdist(x.flatten(1), 0), F.pdist(x.flatten(1), 1),
                                                F.pdist(x.flatten(1), float("inf")))), (4, 3, 2, 2), "Compress"),
    "max_pool_with_indices": (lambda: Fn(lambda x: (*F.max_pool2d_with_indices(x, 2),
                                                    *F.adaptive_max_pool2d_with_indices(x, (2, 3)))),
                              (2, 3, 4, 6), "MaxPool"),
    "spatial_transformer_3d": (lambda: SpatialTransformer(3, align_corners=True), (2, 3, 4, 5, 3), "GridSample"),
    "spatial_transformer_3d_nearest_reflection": (lambda: SpatialTransformer(3, "nearest", "reflection"),
                                                  (2, 3, 4, 5, 3), "GridSample"),
}
for _mode in ("bilinear", "nearest", "bicubic"):
    for _padding in ("zeros", "border", "reflection"):
        MODELS[f"spatial_transformer_{_mode}_{_padding}"] = (
            lambda m=_mode, p=_padding: SpatialTransformer(2, m, p, align_corners=p == "border"), (2, 3, 5, 6),
            "GridSample")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_layer_exports_and_matches(name, runtime, roundtrip):
    make, shape, operator = MODELS[name]
    trainer.manual_seed(0)
    proto, _ = roundtrip(make(), trainer.randn(*shape), runtime, dynamic=[0], variants=BATCHES)
    assert operator in _op_types(proto)


@pytest.mark.parametrize("opset", [16, 19, 20])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_grid_sample_exports_from_opset_16_and_affine_grid_before_and_from_opset_20(mode, opset, runtime, roundtrip):
    trainer.manual_seed(0)
    proto, _ = roundtrip(SpatialTransformer(2, mode, "reflection"), trainer.randn(2, 3, 5, 6), runtime, dynamic=[0],
                         variants=BATCHES, opset=opset)
    assert "GridSample" in _op_types(proto)
    assert ("AffineGrid" in _op_types(proto)) == (opset >= 20)


@pytest.mark.parametrize("opset", [13, 17])
def test_unfold_and_max_unpool_export_at_the_oldest_opsets(opset, runtime, roundtrip):
    trainer.manual_seed(0)
    model = nn.Sequential(nn.Unfold(2, stride=2), nn.Unflatten(2, (3, 4)), PoolUnpool(2, 2))
    roundtrip(model, trainer.randn(2, 3, 6, 8), runtime, dynamic=[0], variants=BATCHES, opset=opset)


@pytest.mark.parametrize("model, shape, opset, needs", [
    (lambda: nn.Fold((4, 5), 2), (2, 12, 12), 17, "Col2Im, which needs opset >= 18"),
    (lambda: SpatialTransformer(2), (2, 3, 5, 6), 15, "GridSample, which needs opset >= 16"),
    (lambda: SpatialTransformer(3), (2, 3, 4, 5, 3), 19,
     r"GridSample on volumes \(5-D input\), which needs opset >= 20"),
])
def test_layers_refuse_opsets_without_their_operator(model, shape, opset, needs, tmp_path):
    with pytest.raises(OpsetError, match=needs):
        export(model().eval(), trainer.randn(*shape), tmp_path / "model.onnx", opset_version=opset)
