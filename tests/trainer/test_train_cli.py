"""``sardonyx-train``: a recipe trains to its target and leaves a checkpoint, metrics, curves and TensorBoard
events; ``--resume`` ends bit for bit where an uninterrupted run ends; Ctrl-C keeps the last checkpoint."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import trainer
from trainer.cli import run_logging, train
from trainer.cli.checkpoint import checkpoint_path
from trainer.cli.train import main

ROOT = Path(__file__).resolve().parents[2]


def _outputs_ok(out: Path) -> dict:
    """The run folder holds a loadable checkpoint, metrics.json, a PNG and an event file; returns the metrics."""
    state = trainer.load(out / "checkpoint.safetensors")
    assert {"model", "optimizer", "scheduler", "epoch", "rng", "config", "history"} <= set(state)
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(out.glob("events.out.tfevents.*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_completed"] == state["epoch"] == len(metrics["history"])
    return metrics


def test_cnn_digits_reaches_98_percent(tmp_path, capsys):
    start = time.perf_counter()
    assert main(["cnn-digits", "--out", str(tmp_path), "--quiet"]) == 0
    elapsed = time.perf_counter() - start
    metrics = _outputs_ok(tmp_path)
    accuracy = metrics["final"]["test_accuracy"]
    print(f"cnn-digits: {accuracy:.2%} test accuracy in {elapsed:.1f} s")
    assert accuracy >= 0.98, metrics["history"]


def test_entry_point_runs_as_a_program(tmp_path):
    script = shutil.which("sardonyx-train", path=str(Path(sys.executable).parent))
    assert script, "the sardonyx-train console script is not installed: pip install -e '.[dev]'"
    result = subprocess.run([script, "cnn-digits", "--epochs", "1", "--out", str(tmp_path)], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stderr and "samples/s" in result.stderr  # the progress bar
    assert _outputs_ok(tmp_path)["final"]["test_accuracy"] > 0.5


def _model_state(out: Path) -> dict:
    return trainer.load(out / "checkpoint.safetensors")


def _assert_same_training_state(a: Path, b: Path) -> None:
    """Bitwise equal weights, optimizer moments and random streams."""
    sa, sb = _model_state(a), _model_state(b)
    assert sa["model"].keys() == sb["model"].keys()
    for key in sa["model"]:
        np.testing.assert_array_equal(sa["model"][key].numpy(), sb["model"][key].numpy(), err_msg=key)
    for index, moments in sa["optimizer"]["state"].items():
        for name, value in moments.items():
            np.testing.assert_array_equal(value.numpy(), sb["optimizer"]["state"][index][name].numpy())
    assert sa["rng"] == sb["rng"]
    assert sa["epoch"] == sb["epoch"]


def test_resume_continues_bitwise(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["mlp-digits", "--epochs", "2", "--seed", "3", "--out", str(straight), "--quiet"]) == 0
    assert main(["mlp-digits", "--epochs", "1", "--seed", "3", "--out", str(resumed), "--quiet"]) == 0
    assert main(["mlp-digits", "--epochs", "2", "--out", str(resumed), "--resume", "--quiet"]) == 0
    _assert_same_training_state(straight, resumed)
    metrics = _outputs_ok(resumed)
    assert [r["epoch"] for r in metrics["history"]] == [1, 2] and metrics["seed"] == 3


def test_ctrl_c_keeps_the_last_checkpoint_and_resume_finishes_the_run(tmp_path, monkeypatch, capsys):
    """KeyboardInterrupt in the middle of epoch 2 leaves epoch 1's checkpoint; --resume then ends where an
    uninterrupted run ends (lenet-digits: its one-cycle schedule and the shuffling resume mid-run)."""
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    args = ["lenet-digits", "--epochs", "2", "--batch-size", "128", "--quiet"]
    assert main([*args, "--out", str(straight)]) == 0

    real_update, batches = run_logging.ProgressBar.update, []

    def update(self, batch_size, **losses):
        batches.append(batch_size)
        if len(batches) == 14:  # epoch 2's third batch (11 batches an epoch)
            raise KeyboardInterrupt
        real_update(self, batch_size, **losses)

    monkeypatch.setattr(run_logging.ProgressBar, "update", update)
    assert main([*args, "--out", str(interrupted)]) == train.INTERRUPTED
    assert "interrupted during epoch 2" in capsys.readouterr().err
    state = trainer.load(interrupted / "checkpoint.safetensors")
    assert state["epoch"] == 1 and len(state["history"]) == 1

    monkeypatch.setattr(run_logging.ProgressBar, "update", real_update)
    assert main(["lenet-digits", "--out", str(interrupted), "--resume", "--quiet"]) == 0
    _assert_same_training_state(straight, interrupted)


def test_gan_recipe_trains_an_epoch(tmp_path):
    assert main(["gan-digits", "--epochs", "1", "--out", str(tmp_path), "--quiet"]) == 0
    metrics = _outputs_ok(tmp_path)
    final = metrics["final"]
    assert metrics["metric"] == "gan_losses"
    assert np.isfinite(final["d_loss"]) and np.isfinite(final["g_loss"])
    assert set(trainer.load(tmp_path / "checkpoint.safetensors")["optimizer"]) == {"generator", "discriminator"}


def test_errors_are_one_line_messages(tmp_path, capsys):
    assert main(["mlp-digits", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["cnn-mnist"])
    assert exit_info.value.code == 2 and "--data-root" in capsys.readouterr().err
    assert main(["cnn-mnist", "--data-root", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    assert "MNIST files" in capsys.readouterr().err


def test_cuda_without_a_gpu_says_how_to_get_one(capsys):
    if trainer.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit) as exit_info:
        main(["mlp-digits", "--device", "cuda"])
    assert exit_info.value.code == 2 and "--device cuda" in capsys.readouterr().err


def test_resume_refuses_a_checkpoint_of_another_format_by_name(tmp_path, capsys):
    out = str(tmp_path)
    assert main(["mlp-digits", "--epochs", "1", "--out", out, "--quiet"]) == 0
    state = trainer.load(checkpoint_path(out))
    trainer.save({**state, "format": "sardonyx-train/1"}, checkpoint_path(out))
    assert main(["mlp-digits", "--epochs", "2", "--out", out, "--resume", "--quiet"]) == 2
    assert "checkpoint format 'sardonyx-train/1'" in capsys.readouterr().err


def test_resume_refuses_a_different_schedule_length(tmp_path, capsys):
    out = str(tmp_path)
    assert main(["rnn-digits", "--epochs", "1", "--out", out, "--quiet"]) == 0
    assert main(["rnn-digits", "--epochs", "1", "--out", out, "--resume", "--quiet"]) == 0  # nothing left to do
    assert main(["rnn-digits", "--epochs", "3", "--out", out, "--resume", "--quiet"]) == 2
    assert "resume with those --epochs" in capsys.readouterr().err


def test_missing_train_extra_is_named(tmp_path, monkeypatch, capsys):
    real_import = run_logging.importlib.import_module

    def import_module(name, *args):
        if name == "tensorboardX":
            raise ImportError("No module named 'tensorboardX'")
        return real_import(name, *args)

    monkeypatch.setattr(run_logging.importlib, "import_module", import_module)
    assert main(["mlp-digits", "--epochs", "1", "--out", str(tmp_path), "--quiet"]) == 2
    assert "sardonyx[train]" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "checkpoint.safetensors")


def test_logging_libraries_load_only_when_a_run_starts():
    code = ("import sys, trainer.cli.train, trainer.zoo\n"
            "loaded = sorted({'tensorboardX', 'matplotlib'} & set(sys.modules))\n"
            "assert not loaded, loaded\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
