"""Every zoo model exports and matches the trainer at the traced batch size, two others, and (for sequence
models) other sequence lengths, in ONNX Runtime and in serving."""

import time

import pytest

import trainer
from exporter import export
from trainer import zoo

BATCHES = ({0: 1}, {0: 5})
SEQUENCES = ({0: 1, 1: 3}, {0: 4, 1: 9})

IMAGE_MODELS = {
    "mlp": (lambda: zoo.MLP(784, (32,), 10, dropout=0.2), (2, 1, 28, 28)),
    "mnist_cnn": (zoo.MnistCNN, (2, 1, 28, 28)),
    "lenet5": (zoo.LeNet5, (2, 1, 28, 28)),
    "resnet18_narrow": (lambda: zoo.resnet18(width=8), (2, 3, 16, 16)),
    "dcgan_generator": (lambda: zoo.Generator(nz=8, ngf=8), (2, 8, 1, 1)),
    "dcgan_discriminator": (lambda: zoo.Discriminator(ndf=8, image_size=16), (2, 1, 16, 16)),
}

SEQUENCE_MODELS = {
    "rnn": lambda: zoo.RNNClassifier(8, 16),
    "lstm_two_layers": lambda: zoo.LSTMClassifier(8, 16, num_layers=2),
    "gru": lambda: zoo.GRUClassifier(8, 16),
    "transformer": lambda: zoo.TransformerClassifier(8, 10, d_model=16, nhead=2, num_layers=2, dim_feedforward=32),
}


def _trained_batch_norm(model):
    """Running statistics away from (0, 1), so that a graph that ignored them would show."""
    for module in model.modules():
        if isinstance(module, trainer.nn.BatchNorm2d):
            module.running_mean.copy_(trainer.randn(module.num_features) * 0.1)
            module.running_var.copy_(trainer.rand(module.num_features) + 0.5)
    return model


@pytest.mark.parametrize("name", sorted(IMAGE_MODELS))
def test_image_models_export_batch_free(name, runtime, roundtrip):
    trainer.manual_seed(0)
    factory, shape = IMAGE_MODELS[name]
    roundtrip(_trained_batch_norm(factory()), trainer.randn(*shape), runtime, dynamic=[0], variants=BATCHES)


@pytest.mark.parametrize("name", sorted(SEQUENCE_MODELS))
def test_sequence_models_export_free_of_batch_and_length(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(SEQUENCE_MODELS[name](), trainer.randn(2, 5, 8), runtime, dynamic=[0, 1], variants=SEQUENCES)


def test_token_transformer_exports_with_embedding(runtime, roundtrip):
    trainer.manual_seed(0)
    model = zoo.TransformerClassifier(num_classes=3, d_model=16, nhead=2, num_layers=1, dim_feedforward=32,
                                      vocab_size=20)
    tokens = trainer.randint(0, 20, (2, 6))
    proto, _ = roundtrip(model, tokens, runtime, dynamic=[0, 1], variants=SEQUENCES)
    assert "Gather" in {n.op_type for n in proto.graph.node}


def test_resnet18_exports_in_under_five_seconds(tmp_path):
    model = zoo.resnet18().eval()
    example = trainer.randn(1, 3, 32, 32)
    export(zoo.MLP(4, (4,), 2).eval(), trainer.randn(1, 4), tmp_path / "warm.onnx")  # imports, runtime probe
    start = time.perf_counter()
    proto = export(model, example, tmp_path / "resnet18.onnx", dynamic_axes={"input": {0: "batch"}})
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, f"ResNet-18 took {elapsed:.2f} s to export"
    assert sum(n.op_type == "Conv" for n in proto.graph.node) == 20
