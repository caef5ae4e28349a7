"""Every trainer layer exports and matches the trainer in ONNX Runtime and serving, at the traced batch size
and two others (and other sequence lengths for sequence layers)."""

import pytest

import trainer
from trainer import nn

BATCHES = ({0: 1}, {0: 4})


class Apply(nn.Module):
    """Runs ``fn(layer, x)``: for layers that take several inputs or return a tuple."""

    def __init__(self, layer, fn):
        super().__init__()
        self.layer = layer
        self.fn = fn

    def forward(self, x):
        return self.fn(self.layer, x)


def _self_attention(layer, x):
    return layer(x, x, x)


def _decode_from_shifted_memory(layer, x):
    return layer(x, x * 0.5 + 1)


def _translate_first_three(model, x):
    """An encoder-decoder step: the first three positions as the target, causally masked."""
    return model(x, x[:, :3], tgt_mask=nn.Transformer.generate_square_subsequent_mask(3))


def _cell_over_steps(cell, x):
    """A cell unrolled over dim 1 of a batch-first sequence, as users write it."""
    state = None
    for t in range(x.shape[1]):
        state = cell(x[:, t], state)
    return state


# name: (layer factory, example shape, dynamic axes, variants)
LAYERS = {
    "Linear": (lambda: nn.Linear(6, 4), (3, 6), [0], BATCHES),
    "Linear_batched_3d": (lambda: nn.Linear(6, 4), (3, 5, 6), [0, 1], ({0: 1, 1: 2}, {0: 4, 1: 7})),
    "Linear_no_bias": (lambda: nn.Linear(6, 4, bias=False), (3, 6), [0], BATCHES),
    "Identity": (nn.Identity, (3, 6), [0], BATCHES),
    "Flatten": (nn.Flatten, (3, 2, 3, 4), [0], BATCHES),
    "Flatten_middle": (lambda: nn.Flatten(1, 2), (3, 2, 3, 4), [0], BATCHES),
    "Dropout": (lambda: nn.Dropout(0.5), (3, 6), [0], BATCHES),
    "Dropout2d": (lambda: nn.Dropout2d(0.5), (3, 2, 4, 4), [0], BATCHES),
    "ReLU": (nn.ReLU, (3, 6), [0], BATCHES),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), (3, 6), [0], BATCHES),
    "Sigmoid": (nn.Sigmoid, (3, 6), [0], BATCHES),
    "Tanh": (nn.Tanh, (3, 6), [0], BATCHES),
    "GELU": (nn.GELU, (3, 6), [0], BATCHES),
    "GELU_tanh": (lambda: nn.GELU("tanh"), (3, 6), [0], BATCHES),
    "Softmax": (lambda: nn.Softmax(dim=1), (3, 6), [0], BATCHES),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=-1), (3, 6), [0], BATCHES),
    "Conv1d": (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9), [0], BATCHES),
    "Conv2d": (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=(1, 2), dilation=(1, 2), groups=2), (2, 4, 9, 9), [0],
               BATCHES),
    "Conv2d_same": (lambda: nn.Conv2d(2, 3, 4, padding="same"), (2, 2, 7, 7), [0], BATCHES),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 5),
                        [0], BATCHES),
    "MaxPool1d": (lambda: nn.MaxPool1d(3, stride=2, padding=1), (2, 3, 9), [0], BATCHES),
    "MaxPool2d": (lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=1), (2, 3, 9, 9), [0], BATCHES),
    "MaxPool2d_ceil": (lambda: nn.MaxPool2d(2, ceil_mode=True), (2, 3, 7, 7), [0], BATCHES),
    "AvgPool1d": (lambda: nn.AvgPool1d(3, stride=2), (2, 3, 9), [0], BATCHES),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 9, 9), [0], BATCHES),
    "AvgPool2d_excluding_pad": (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                                (2, 3, 9, 9), [0], BATCHES),
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(3), (2, 3, 9), [0], BATCHES),
    "AdaptiveAvgPool2d_global": (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 5), [0], BATCHES),
    "AdaptiveAvgPool2d_uneven": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 5, 7), [0], BATCHES),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(6), (3, 6), [0], BATCHES),
    "BatchNorm1d_sequence": (lambda: nn.BatchNorm1d(4), (3, 4, 5), [0], BATCHES),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (2, 3, 4, 4), [0], BATCHES),
    "BatchNorm2d_no_affine": (lambda: nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4), [0], BATCHES),
    "BatchNorm2d_batch_statistics": (lambda: nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 4, 4), [0],
                                     BATCHES),
    "LayerNorm": (lambda: nn.LayerNorm(6), (3, 5, 6), [0, 1], ({0: 1, 1: 2}, {0: 4, 1: 7})),
    "LayerNorm_two_dims": (lambda: nn.LayerNorm((5, 6)), (3, 5, 6), [0], BATCHES),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3), [0], BATCHES),
    "Upsample_scale": (lambda: nn.Upsample(scale_factor=2), (2, 3, 4, 5), [0], BATCHES),
    "Upsample_size": (lambda: nn.Upsample(size=(7, 9)), (2, 3, 4, 5), [0], BATCHES),
    "RNN_relu_bidirectional": (lambda: Apply(nn.RNN(5, 6, nonlinearity="relu", bidirectional=True),
                                             lambda m, x: m(x)[0]), (7, 2, 5), [0, 1], ({0: 3, 1: 1}, {0: 9, 1: 4})),
    "RNN_two_layers_states": (lambda: Apply(nn.RNN(5, 6, num_layers=2, batch_first=True), lambda m, x: m(x)),
                              (2, 7, 5), [0, 1], ({0: 1, 1: 3}, {0: 4, 1: 9})),
    "LSTM_bidirectional": (lambda: Apply(nn.LSTM(5, 6, bidirectional=True, batch_first=True), lambda m, x: m(x)),
                           (2, 7, 5), [0, 1], ({0: 1, 1: 3}, {0: 4, 1: 9})),
    "LSTM_no_bias": (lambda: Apply(nn.LSTM(5, 6, bias=False), lambda m, x: m(x)[0]), (7, 2, 5), [0, 1],
                     ({0: 3, 1: 1}, {0: 9, 1: 4})),
    "GRU_bidirectional_two_layers": (lambda: Apply(nn.GRU(5, 6, num_layers=2, bidirectional=True), lambda m, x: m(x)),
                                     (7, 2, 5), [0, 1], ({0: 3, 1: 1}, {0: 9, 1: 4})),
    "RNNCell": (lambda: Apply(nn.RNNCell(5, 6), _cell_over_steps), (2, 3, 5), [0], BATCHES),
    "LSTMCell": (lambda: Apply(nn.LSTMCell(5, 6), _cell_over_steps), (2, 3, 5), [0], BATCHES),
    "GRUCell": (lambda: Apply(nn.GRUCell(5, 6), _cell_over_steps), (2, 3, 5), [0], BATCHES),
    "MultiheadAttention": (lambda: Apply(nn.MultiheadAttention(8, 2), _self_attention), (5, 2, 8), [0, 1],
                           ({0: 2, 1: 1}, {0: 7, 1: 3})),
    "MultiheadAttention_batch_first_no_bias": (
        lambda: Apply(nn.MultiheadAttention(8, 2, bias=False, batch_first=True), _self_attention), (2, 5, 8), [0, 1],
        ({0: 1, 1: 2}, {0: 3, 1: 7})),
    "TransformerEncoderLayer_norm_first_gelu": (
        lambda: nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True, batch_first=True),
        (2, 5, 8), [0, 1], ({0: 1, 1: 2}, {0: 3, 1: 7})),
    "TransformerEncoder": (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8)),
                           (5, 2, 8), [0, 1], ({0: 2, 1: 1}, {0: 7, 1: 3})),
    "TransformerDecoderLayer": (lambda: Apply(nn.TransformerDecoderLayer(8, 2, 16, norm_first=True),
                                              _decode_from_shifted_memory), (5, 2, 8), [0, 1],
                                ({0: 2, 1: 1}, {0: 7, 1: 3})),
    "Transformer": (lambda: Apply(nn.Transformer(8, 2, 2, 2, 16, batch_first=True), _translate_first_three),
                    (2, 5, 8), [0], ({0: 1}, {0: 4})),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    factory, shape, dynamic, variants = LAYERS[name]
    layer = factory()
    for module in layer.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.running_mean is not None:
            module.running_mean.copy_(trainer.randn(module.num_features) * 0.1)
            module.running_var.copy_(trainer.rand(module.num_features) + 0.5)
    roundtrip(layer, trainer.randn(*shape), runtime, dynamic=dynamic, variants=variants)


def test_embedding_exports_as_gather(runtime, roundtrip):
    trainer.manual_seed(0)
    layer = nn.Embedding(10, 4, padding_idx=0)
    proto, _ = roundtrip(layer, trainer.randint(0, 10, (3, 5)), runtime, dynamic=[0, 1],
                         variants=({0: 1, 1: 2}, {0: 4, 1: 8}))
    assert [n.op_type for n in proto.graph.node] == ["Gather"]
    assert [i.name for i in proto.graph.initializer] == ["weight"]
