"""examples/quickstart.py (``make demo``) end to end in a temporary directory: train, export, check, run in-process,
serve, query over gRPC; and the server it starts is gone afterwards, whether a step fails or Ctrl-C arrives."""

import contextlib
import os
import signal
import socket
import time

import local_server
import numpy as np
import pytest
import quickstart

from trainer.zoo import MnistCNN


def test_trainer_runtime_and_server_predict_the_same(tmp_path):
    summary = quickstart.run(epochs=1, out=tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in summary["files"]] == ["digits/1/model.onnx",
                                                                             "digits/config.pbtxt"]
    assert "max_batch_size: 64" in (tmp_path / "digits" / "config.pbtxt").read_text()
    results, labels = summary["results"], summary["labels"]
    assert {"trainer", "InferenceSession", "sardonyx-serve (gRPC)"} <= set(results)
    reference = results["trainer"][0]
    assert len(reference) == len(labels) == 450
    assert np.mean(reference == labels) > 0.8  # one epoch of training
    for name, (predictions, latency) in results.items():
        np.testing.assert_array_equal(predictions, reference, err_msg=name)
        assert latency > 0


@pytest.fixture
def untrained(monkeypatch):
    """Skip the training: the steps after it, and the server's lifetime, are what these tests look at."""
    monkeypatch.setattr(quickstart, "train", lambda epochs: MnistCNN().eval())


@pytest.fixture
def started(monkeypatch):
    """The servers quickstart starts, recorded as it starts them."""
    servers, real = [], quickstart.sardonyx_serve

    @contextlib.contextmanager
    def recording(*args, **kwargs):
        with real(*args, **kwargs) as server:
            servers.append(server)
            yield server

    monkeypatch.setattr(quickstart, "sardonyx_serve", recording)
    return servers


def assert_stopped(server):
    assert server.process.poll() is not None, "the server is still running"
    with socket.socket() as probe:  # the port is free again: binding it succeeds
        probe.bind((local_server.HOST, server.grpc_port))


def test_main_prints_one_table_and_stops_the_server(tmp_path, capsys, untrained, started):
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert quickstart.main(["--epochs", "1", "--out", str(tmp_path)]) == 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    out = capsys.readouterr().out
    for row in ("trainer", "InferenceSession", "sardonyx-serve (gRPC)", "450/450", "files:", "model.onnx"):
        assert row in out
    assert_stopped(started[0])


def test_server_is_stopped_when_a_step_fails(tmp_path, monkeypatch, untrained, started):
    def failing(url, images):
        raise RuntimeError("query failed")

    monkeypatch.setattr(quickstart, "server_path", failing)
    with pytest.raises(RuntimeError, match="query failed"):
        quickstart.run(epochs=1, out=tmp_path)
    assert_stopped(started[0])


def test_server_is_stopped_on_ctrl_c(tmp_path, monkeypatch, untrained, started):
    def interrupted(url, images):
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered while the server is up
        time.sleep(30)

    monkeypatch.setattr(quickstart, "server_path", interrupted)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal; a test runner may differ
    try:
        assert quickstart.main(["--out", str(tmp_path)]) == quickstart.INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
    assert_stopped(started[0])
