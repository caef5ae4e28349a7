"""interpolate's bicubic, area, nearest-exact and antialiased modes export as Resize (area as adaptive average
pooling) and run the same in onnxruntime and serving as in the trainer."""

import io

import pytest

import trainer
from exporter import export
from exporter.errors import UnsupportedOpError
from tests.exporter.function_module import Fn
from trainer import nn
from trainer.nn import functional as F

MODES = {
    "bicubic_up": dict(scale_factor=2, mode="bicubic"),
    "bicubic_odd_factors": dict(scale_factor=(1.7, 0.6), mode="bicubic"),
    "bicubic_size_align_corners": dict(size=(9, 4), mode="bicubic", align_corners=True),
    "bicubic_down_size": dict(size=(3, 5), mode="bicubic"),
    "nearest_exact_up": dict(scale_factor=1.7, mode="nearest-exact"),
    "nearest_exact_size": dict(size=(3, 11), mode="nearest-exact"),
    "area_down": dict(size=(3, 4), mode="area"),
    "area_factor": dict(scale_factor=0.5, mode="area"),
    "antialias_bilinear_down": dict(scale_factor=0.4, mode="bilinear", antialias=True),
    "antialias_bilinear_size": dict(size=(2, 5), mode="bilinear", antialias=True),
    "antialias_bicubic_down": dict(size=(3, 4), mode="bicubic", antialias=True),
    "antialias_bicubic_up": dict(scale_factor=1.5, mode="bicubic", antialias=True),
}


@pytest.mark.parametrize("name", sorted(MODES))
def test_interpolate_mode_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(lambda x: F.interpolate(x, **MODES[name])), trainer.randn(2, 3, 7, 9), runtime, dynamic=[0],
              variants=({0: 1},), opset=18)


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2.5, mode="nearest-exact"), dict(size=(5,), mode="area")])
def test_one_dimensional_modes_export_through_upsample(kwargs, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(nn.Upsample(**kwargs), trainer.randn(2, 3, 7), runtime)


def test_three_dimensional_nearest_exact_exports(runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(nn.Upsample(size=(3, 5, 2), mode="nearest-exact"), trainer.randn(1, 2, 4, 3, 5), runtime)


@pytest.mark.parametrize("kwargs, opset, message", [
    (dict(scale_factor=0.5, mode="bilinear", antialias=True), 17, "needs Resize's antialias attribute, from opset 18"),
    (dict(scale_factor=0.5, mode="bicubic", antialias=True, align_corners=True), 18, "align_corners=True"),
    (dict(scale_factor=0.5, mode="lanczos", antialias=True), 18, "mode='lanczos' has no ONNX Resize filter"),
])
def test_antialias_exports_are_refused_by_name_where_resize_cannot_express_them(kwargs, opset, message):
    model = Fn(lambda x: F.interpolate(x, **kwargs)).eval()
    with pytest.raises(UnsupportedOpError, match=f"trainer op UpsampleAntialias.*{message}"):
        export(model, trainer.randn(1, 2, 6, 6), io.BytesIO(), opset_version=opset)
