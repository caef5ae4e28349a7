"""Exporting the 3-D layers and their 1-D and 2-D siblings: each model round-trips through ONNX Runtime and serving
on a 5-D example and on other batch sizes."""

import pytest

import trainer
from trainer import nn

BATCHES = ({0: 1}, {0: 3})


def _batch_norm_with_statistics():
    layer = nn.BatchNorm3d(4)
    layer(trainer.randn(3, 4, 4, 4, 4) * 2 + 1)  # a training step, so that the running statistics are not defaults
    return layer


MODELS = {
    "conv3d": lambda: nn.Conv3d(4, 6, (3, 2, 3), stride=(1, 2, 1), padding=1, dilation=(1, 1, 2), groups=2),
    "conv3d_same": lambda: nn.Conv3d(4, 3, (2, 3, 2), padding="same", bias=False),
    "conv_transpose3d": lambda: nn.ConvTranspose3d(4, 2, (2, 3, 2), stride=(2, 1, 2), padding=(1, 0, 0),
                                                   output_padding=(1, 0, 1), dilation=(1, 2, 1)),
    "conv_transpose1d": lambda: nn.Sequential(nn.Flatten(2), nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1,
                                                                                output_padding=1, groups=2)),
    "max_pool3d": lambda: nn.MaxPool3d((2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), dilation=(1, 1, 2),
                                       ceil_mode=True),
    "max_pool3d_indices": lambda: nn.MaxPool3d(2, stride=(2, 1, 2), return_indices=True),
    "avg_pool3d": lambda: nn.AvgPool3d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    "avg_pool3d_divisor": lambda: nn.AvgPool3d((2, 2, 3), divisor_override=5),
    "adaptive_avg_pool3d_uneven": lambda: nn.AdaptiveAvgPool3d((4, 5, 3)),
    "adaptive_avg_pool3d_divisible": lambda: nn.AdaptiveAvgPool3d((3, 2, 6)),
    "adaptive_avg_pool3d_global": lambda: nn.AdaptiveAvgPool3d(1),
    "adaptive_max_pool3d_uneven": lambda: nn.AdaptiveMaxPool3d((4, 5, 3)),
    "adaptive_max_pool3d_indices": lambda: nn.AdaptiveMaxPool3d((3, 2, 2), return_indices=True),
    "batch_norm3d": _batch_norm_with_statistics,
    "instance_norm3d": lambda: nn.InstanceNorm3d(4, affine=True),
    "channel_dropouts": lambda: nn.Sequential(nn.Dropout3d(0.5), nn.Flatten(2), nn.Dropout1d(0.5)),
    "pad_3d": lambda: nn.Sequential(nn.ConstantPad3d((1, 0, 2, 1, 0, 2), 0.5), nn.ReflectionPad3d((1, 2, 0, 1, 2, 1)),
                                    nn.ReplicationPad3d(1), nn.ZeroPad3d(1), nn.CircularPad3d((1, 1, 2, 0, 1, 2))),
    "pad_2d": lambda: nn.Sequential(nn.Flatten(3), nn.ZeroPad2d((1, 0, 2, 1)), nn.CircularPad2d((1, 2, 2, 0))),
    "pad_1d": lambda: nn.Sequential(nn.Flatten(2), nn.ZeroPad1d((2, 1)), nn.CircularPad1d(2)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_layer_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(MODELS[name](), trainer.randn(2, 4, 6, 6, 6), runtime, dynamic=[0], variants=BATCHES)


@pytest.mark.parametrize("opset", [18, 19])
def test_circular_3d_padding_exports_before_and_after_wrap_mode(opset, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(nn.CircularPad3d((1, 2, 0, 1, 2, 0)), trainer.randn(2, 4, 3, 4, 5), runtime, dynamic=[0],
              variants=BATCHES, opset=opset)
