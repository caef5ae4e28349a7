"""What a training run leaves behind besides its checkpoint: a progress bar per epoch, TensorBoard event files,
a PNG of the loss/accuracy curves and ``metrics.json``.

TensorBoard (tensorboardX) and matplotlib come with the ``train`` extra and are imported only when a run
starts, so that ``import trainer`` never needs them.
"""

from __future__ import annotations

import importlib
import json
import os
import time

from tqdm import tqdm

CURVES_FILE = "curves.png"
METRICS_FILE = "metrics.json"


def _require(module: str, package: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"sardonyx-train needs {package} for its logs, which the 'train' extra installs: "
                          f"pip install 'sardonyx[train]'") from exc


class ProgressBar:
    """A tqdm bar over one epoch's batches that shows the running loss and samples per second."""

    def __init__(self, loader, epoch: int, epochs: int, disable: bool = False):
        self._bar = tqdm(loader, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=True, dynamic_ncols=True,
                         disable=disable)
        self._start = time.perf_counter()
        self.samples = 0

    def __iter__(self):
        return iter(self._bar)

    def update(self, batch_size: int, **losses: float) -> None:
        self.samples += batch_size
        rate = self.samples / max(time.perf_counter() - self._start, 1e-9)
        self._bar.set_postfix({**{k: f"{v:.4f}" for k, v in losses.items()}, "samples/s": f"{rate:.0f}"},
                              refresh=False)

    def close(self) -> None:
        self._bar.close()


class RunLog:
    """The event files, curves and metrics of a run in ``out``; ``history`` holds one dict per finished epoch
    (restored from the checkpoint on ``--resume``, so the curves and metrics cover the whole run)."""

    def __init__(self, out: str, history: list[dict] | None = None, purge_step: int | None = None):
        tensorboardx = _require("tensorboardX", "tensorboardX")
        self._pyplot = _pyplot()
        self._ticker = importlib.import_module("matplotlib.ticker")
        self.out = out
        self.history = list(history or [])
        # purge_step: on resume, TensorBoard drops what an interrupted run logged past the checkpoint.
        self.writer = tensorboardx.SummaryWriter(logdir=out, purge_step=purge_step)

    def batch(self, step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(f"batch/{name}", value, step)

    def epoch(self, record: dict) -> None:
        self.history.append(record)
        for name, value in record.items():
            if name != "epoch" and isinstance(value, (int, float)):
                self.writer.add_scalar(f"epoch/{name}", value, record["epoch"])
        self.writer.flush()

    def plot(self) -> str:
        """Draw every ``*loss`` series in one panel and every ``*accuracy`` series in another, against the epoch."""
        plt = self._pyplot
        epochs = [r["epoch"] for r in self.history]
        names = sorted({k for r in self.history for k in r if k.endswith("loss") or k.endswith("accuracy")})
        panels = [[n for n in names if n.endswith("loss")], [n for n in names if n.endswith("accuracy")]]
        panels = [p for p in panels if p]
        fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5.5 * max(len(panels), 1), 4), squeeze=False)
        for ax, panel in zip(axes[0], panels):
            for name in panel:
                ax.plot(epochs, [r.get(name) for r in self.history], marker="o", label=name)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(self._ticker.MaxNLocator(integer=True))
            ax.set_ylabel("accuracy" if panel[0].endswith("accuracy") else "loss")
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.tight_layout()
        path = os.path.join(self.out, CURVES_FILE)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def write_metrics(self, summary: dict) -> str:
        path = os.path.join(self.out, METRICS_FILE)
        temporary = path + ".tmp"
        with open(temporary, "w") as f:
            json.dump({**summary, "history": self.history}, f, indent=2)
            f.write("\n")
        os.replace(temporary, path)
        return path

    def close(self) -> None:
        self.writer.close()


def _pyplot():
    matplotlib = _require("matplotlib", "matplotlib")
    matplotlib.use("Agg")  # files only: no display needed, and never a GUI window from a training run
    import matplotlib.pyplot as plt

    return plt
