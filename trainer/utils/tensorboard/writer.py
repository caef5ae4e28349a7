"""``SummaryWriter``: PyTorch's TensorBoard writer, over tensorboardX's.

Each method takes what PyTorch's does and hands tensorboardX NumPy arrays and Python numbers in place of trainer
tensors (tensorboardX reads only PyTorch's own tensors). The graph of a model is the one exception: trainer knows
nothing of ONNX, so ``add_graph`` says how to export the model and log the file with ``add_onnx_graph``.
"""

from __future__ import annotations

import importlib
import os
import time

from trainer.tensor import Tensor


def _tensorboardx():
    try:
        return importlib.import_module("tensorboardX")
    except ImportError as exc:
        raise ImportError("trainer.utils.tensorboard.SummaryWriter needs tensorboardX, which the 'train' extra "
                          "installs: pip install 'sardonyx[train]'") from exc


def _array(value):
    """A trainer tensor as a NumPy array (detached, on the CPU); anything else as it is."""
    return value.detach().cpu().numpy() if isinstance(value, Tensor) else value


def _number(value):
    """A one-element trainer tensor as a Python number; anything else as it is."""
    return value.item() if isinstance(value, Tensor) else value


def _numbers(mapping: dict) -> dict:
    return {key: _number(value) for key, value in mapping.items()}


class SummaryWriter:
    """Writes TensorBoard event files into ``log_dir`` (default ``runs/<date>_<host><comment>``), with PyTorch's
    methods and arguments; trainer tensors go wherever PyTorch's writer takes a tensor."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        self._tensorboardx = _tensorboardx()
        self._writer = self._tensorboardx.SummaryWriter(logdir=log_dir, comment=comment, purge_step=purge_step,
                                                        max_queue=max_queue, flush_secs=flush_secs,
                                                        filename_suffix=filename_suffix)
        self._file_options = {"max_queue": max_queue, "flush_secs": flush_secs, "filename_suffix": filename_suffix}
        self._scalars_writers = {}  # add_scalars' runs, by directory

    @property
    def log_dir(self) -> str:
        return self._writer.logdir

    def get_logdir(self) -> str:
        """The directory the event files are written to."""
        return self._writer.logdir

    # ------------------------------------------------------------------ scalars
    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None):
        self._writer.add_scalar(tag, _number(scalar_value), _number(global_step), walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Each scalar goes to its own run, ``<log_dir>/<main_tag>_<tag>``, as in PyTorch (tensorboardX's own
        ``add_scalars`` nests them as ``<main_tag>/<tag>`` instead), under the tag ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        for tag, value in tag_scalar_dict.items():
            run = os.path.join(str(self.log_dir), main_tag.replace("/", "_") + "_" + tag)
            if run not in self._scalars_writers:
                self._scalars_writers[run] = self._tensorboardx.FileWriter(run, **self._file_options)
            self._scalars_writers[run].add_summary(self._tensorboardx.summary.scalar(main_tag, _number(value)),
                                                   _number(global_step), walltime)

    def add_custom_scalars(self, layout):
        self._writer.add_custom_scalars(layout)

    def add_hparams(self, hparam_dict, metric_dict, run_name=None, global_step=None):
        """The hyperparameters and the metrics they gave, in a run of their own under ``log_dir`` (``run_name``,
        by default the current time)."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError(f"hparam_dict and metric_dict should be dictionary, got {type(hparam_dict).__name__} "
                            f"and {type(metric_dict).__name__}")
        self._writer.add_hparams(_numbers(hparam_dict), _numbers(metric_dict), name=run_name,
                                 global_step=_number(global_step))

    # ------------------------------------------------------------------ distributions
    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        self._writer.add_histogram(tag, _array(values), _number(global_step), bins, walltime, max_bins)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts,
                          global_step=None, walltime=None):
        self._writer.add_histogram_raw(tag, _number(min), _number(max), _number(num), _number(sum),
                                       _number(sum_squares), _array(bucket_limits), _array(bucket_counts),
                                       _number(global_step), walltime)

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127, weights=None,
                     walltime=None):
        self._writer.add_pr_curve(tag, _array(labels), _array(predictions), _number(global_step), num_thresholds,
                                  _array(weights), walltime)

    def add_pr_curve_raw(self, tag, true_positive_counts, false_positive_counts, true_negative_counts,
                         false_negative_counts, precision, recall, global_step=None, num_thresholds=127,
                         weights=None, walltime=None):
        self._writer.add_pr_curve_raw(tag, _array(true_positive_counts), _array(false_positive_counts),
                                      _array(true_negative_counts), _array(false_negative_counts), _array(precision),
                                      _array(recall), _number(global_step), num_thresholds, _array(weights),
                                      walltime)

    # ------------------------------------------------------------------ media
    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image, ``CHW`` (or as ``dataformats`` says: ``HWC``, ``HW``); float values in [0, 1], uint8 in
        [0, 255]."""
        self._writer.add_image(tag, _array(img_tensor), _number(global_step), walltime, dataformats)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images tiled into one, ``NCHW`` (or ``NHWC``, ...)."""
        self._writer.add_images(tag, _array(img_tensor), _number(global_step), walltime, dataformats)

    def add_image_with_boxes(self, tag, img_tensor, box_tensor, global_step=None, walltime=None, rescale=1,
                             dataformats="CHW", labels=None):
        self._writer.add_image_with_boxes(tag, _array(img_tensor), _array(box_tensor), _number(global_step),
                                          walltime, dataformats, labels, rescale=rescale)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them) rendered to an image."""
        self._writer.add_figure(tag, figure, _number(global_step), close, walltime)

    def add_video(self, tag, vid_tensor, global_step=None, fps=4, walltime=None):
        """A ``(N, T, C, H, W)`` video, encoded as a GIF (needs moviepy, as in PyTorch)."""
        self._writer.add_video(tag, _array(vid_tensor), _number(global_step), fps, walltime)

    def add_audio(self, tag, snd_tensor, global_step=None, sample_rate=44100, walltime=None):
        self._writer.add_audio(tag, _array(snd_tensor), _number(global_step), sample_rate, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._writer.add_text(tag, text_string, _number(global_step), walltime)

    def add_mesh(self, tag, vertices, colors=None, faces=None, config_dict=None, global_step=None, walltime=None):
        self._writer.add_mesh(tag, _array(vertices), _array(colors), _array(faces), config_dict,
                              _number(global_step), walltime)

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None, tag="default",
                      metadata_header=None):
        """Points for the projector: ``mat`` (N, D), with a label per point (``metadata``) and/or a square image
        per point (``label_img``, N x C x H x W)."""
        if isinstance(metadata, Tensor):
            metadata = metadata.tolist()
        self._writer.add_embedding(_array(mat), metadata, _array(label_img), _number(global_step), tag,
                                   metadata_header)

    # ------------------------------------------------------------------ graphs
    def add_onnx_graph(self, prototxt):
        """The graph of an ONNX model file (from ``exporter.export``) for TensorBoard's graph view."""
        self._writer.add_onnx_graph(str(prototxt))

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """Not available: PyTorch traces the model with TorchScript here, and trainer knows nothing of ONNX.
        Export the model to ONNX and log the file instead."""
        raise NotImplementedError(
            f"SummaryWriter.add_graph cannot trace a trainer model ({type(model).__name__}): trainer does not "
            f"depend on the exporter. Export it with exporter.export(model, input_to_model, 'model.onnx') and log "
            f"the file with writer.add_onnx_graph('model.onnx')")

    # ------------------------------------------------------------------ lifetime
    def flush(self):
        """Write what is pending to disk."""
        self._writer.flush()
        for writer in self._scalars_writers.values():
            writer.flush()

    def close(self):
        self._writer.close()
        for writer in self._scalars_writers.values():
            writer.close()
        self._scalars_writers.clear()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()
