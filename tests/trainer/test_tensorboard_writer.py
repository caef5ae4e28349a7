"""``trainer.utils.tensorboard.SummaryWriter``: what it writes, read back from the event files, holds the values
logged, and is what tensorboardX writes for the same calls made with PyTorch tensors."""

import io
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import trainer
from trainer.utils.tensorboard import SummaryWriter

tensorboardx = pytest.importorskip("tensorboardX")
from tensorboardX.proto import event_pb2, plugin_hparams_pb2  # noqa: E402

RNG = np.random.default_rng(0)


def read_events(path):
    """Every event in the TFRecord files under ``path`` (a record: length u64, its crc u32, data, crc u32)."""
    events = []
    for file in sorted(Path(path).rglob("events.out.tfevents.*")):
        data = file.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[at + 12:at + 12 + length])
            events.append((file.parent, event))
            at += 12 + length + 4
    return events


def values(path, tag=None):
    """``(step, Summary.Value)`` for every summary value under ``path`` (with ``tag``, if given)."""
    return [(e.step, v) for _, e in read_events(path) if e.HasField("summary") for v in e.summary.value
            if tag is None or v.tag == tag]


def assert_same_as_tensorboardx_with_torch(tmp_path, log):
    """``log(writer, lib)`` with our writer and trainer tensors, and with tensorboardX's and PyTorch tensors,
    writes the same summaries (all but the wall time)."""
    with SummaryWriter(tmp_path / "ours") as ours:
        log(ours, trainer)
    with tensorboardx.SummaryWriter(str(tmp_path / "theirs")) as theirs:
        log(theirs, torch)
    got, expected = values(tmp_path / "ours"), values(tmp_path / "theirs")
    assert got, "nothing was written"
    assert [(s, v.SerializeToString()) for s, v in got] == [(s, v.SerializeToString()) for s, v in expected]


def test_scalars_round_trip(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        assert writer.log_dir == tmp_path == writer.get_logdir()
        for step in range(3):
            writer.add_scalar("loss", trainer.tensor(1.5 / (step + 1)), trainer.tensor(step))
        writer.add_scalar("plain", 0.25, 7)
        writer.add_scalars("run", {"a": trainer.tensor(1.0), "b": 2.0}, 4)
    assert [(s, v.simple_value) for s, v in values(tmp_path, "loss")] == \
        [(0, 1.5), (1, pytest.approx(0.75)), (2, pytest.approx(0.5))]
    assert [(s, v.simple_value) for s, v in values(tmp_path, "plain")] == [(7, 0.25)]
    by_run = {(d.name, v.simple_value) for d, e in read_events(tmp_path) if e.HasField("summary")
              for v in e.summary.value if v.tag == "run"}
    assert by_run == {("run_a", 1.0), ("run_b", 2.0)}


def test_histogram_round_trips_and_matches_tensorboardx(tmp_path):
    data = RNG.standard_normal(1000)
    assert_same_as_tensorboardx_with_torch(tmp_path, lambda w, lib: w.add_histogram("h", lib.tensor(data), 3))
    ((step, value),) = values(tmp_path / "ours", "h")
    assert step == 3
    assert value.histo.num == 1000 and value.histo.sum == pytest.approx(data.sum())
    assert (value.histo.min, value.histo.max) == (data.min(), data.max())
    assert value.histo.sum_squares == pytest.approx((data ** 2).sum())


def _decoded(value):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(value.image.encoded_image_string)))


def test_images_round_trip_in_chw_and_hwc(tmp_path):
    chw = RNG.integers(0, 256, (3, 4, 5)).astype(np.uint8)
    batch = RNG.random((2, 3, 4, 4))
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("chw", trainer.tensor(chw), 1)
        writer.add_image("hwc", trainer.tensor(chw.transpose(1, 2, 0)), 1, dataformats="HWC")
        writer.add_image("float", trainer.tensor(chw / 255.0), 1)
        writer.add_images("batch", trainer.tensor(batch), 2)
    for tag in ("chw", "hwc", "float"):
        ((_, value),) = values(tmp_path, tag)
        assert (value.image.height, value.image.width, value.image.colorspace) == (4, 5, 3)
        np.testing.assert_array_equal(_decoded(value), chw.transpose(1, 2, 0), err_msg=tag)
    ((_, tiled),) = values(tmp_path, "batch")
    assert (tiled.image.height, tiled.image.width) == (4, 8)  # two images side by side

    def log(w, lib):
        w.add_images("batch", lib.tensor(batch), 2)
        w.add_image("chw", lib.tensor(chw), 1)

    assert_same_as_tensorboardx_with_torch(tmp_path, log)


def test_text_and_hparams_round_trip(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_text("note", "hello **world**", 5)
        writer.add_hparams({"lr": trainer.tensor(0.125), "optimizer": "sgd"}, {"hparam/accuracy": trainer.tensor(0.5)},
                           run_name="trial")
    ((step, note),) = values(tmp_path, "note/text_summary")  # PyTorch's tag for text
    assert step == 5 and note.tensor.string_val == [b"hello **world**"]
    run = tmp_path / "trial"
    assert [v.simple_value for _, v in values(run, "hparam/accuracy")] == [0.5]
    (start,) = [v for _, v in values(run) if v.tag == "_hparams_/session_start_info"]
    info = plugin_hparams_pb2.HParamsPluginData.FromString(start.metadata.plugin_data.content).session_start_info
    assert info.hparams["lr"].number_value == 0.125 and info.hparams["optimizer"].string_value == "sgd"
    with pytest.raises(TypeError, match="should be dictionary"):
        SummaryWriter(tmp_path).add_hparams([("lr", 0.1)], {})


def test_pr_curve_matches_tensorboardx(tmp_path):
    labels = RNG.integers(0, 2, 50)
    predictions = RNG.random(50)
    assert_same_as_tensorboardx_with_torch(
        tmp_path, lambda w, lib: w.add_pr_curve("pr", lib.tensor(labels), lib.tensor(predictions), 1,
                                                num_thresholds=11))
    ((_, value),) = values(tmp_path / "ours", "pr")
    counts = np.array(value.tensor.float_val).reshape(6, 11)  # TP, FP, TN, FN, precision, recall per threshold
    assert counts[0, 0] == labels.sum() and counts[1, 0] == (labels == 0).sum()


def test_embedding_files_hold_the_points_and_labels(tmp_path):
    points = RNG.standard_normal((6, 3))
    with SummaryWriter(tmp_path) as writer:
        writer.add_embedding(trainer.tensor(points), metadata=trainer.tensor([0, 1, 2, 0, 1, 2]),
                             label_img=trainer.rand(6, 3, 4, 4), tag="points")
    folder = tmp_path / "00000" / "points"
    np.testing.assert_allclose(np.loadtxt(folder / "tensors.tsv"), points, rtol=1e-6)
    assert (folder / "metadata.tsv").read_text().split() == ["0", "1", "2", "0", "1", "2"]
    assert (folder / "sprite.png").exists() and "points" in (tmp_path / "projector_config.pbtxt").read_text()


def test_figure_is_logged_as_an_image(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as writer:
        writer.add_figure("curve", figure, 0)
    ((_, value),) = values(tmp_path, "curve")
    assert (value.image.height, value.image.width) == (50, 100)


def test_add_graph_says_to_export_and_add_onnx_graph_logs_the_export(tmp_path):
    from exporter import export

    model = trainer.nn.Sequential(trainer.nn.Linear(3, 2), trainer.nn.ReLU()).eval()
    x = trainer.randn(1, 3)
    writer = SummaryWriter(tmp_path / "logs")
    with pytest.raises(NotImplementedError, match=r"exporter\.export.*add_onnx_graph"):
        writer.add_graph(model, x)
    export(model, x, tmp_path / "model.onnx")
    writer.add_onnx_graph(tmp_path / "model.onnx")
    writer.close()
    (graph,) = [e for _, e in read_events(tmp_path / "logs") if e.HasField("graph_def")]
    from tensorboardX.proto import graph_pb2

    ops = {node.op for node in graph_pb2.GraphDef.FromString(graph.graph_def).node}
    assert {"Gemm", "Relu"} <= ops


def test_writer_without_tensorboardx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install 'sardonyx\[train\]'"):
        SummaryWriter(tmp_path)
