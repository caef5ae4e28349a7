"""Micro-benchmarks with PyTorch's ``torch.utils.benchmark`` API: ``Timer`` measures a statement, ``Measurement``
holds and summarises the times, ``Compare`` tabulates many. (PyTorch's ``Fuzzer`` and Callgrind support are not
provided.)"""

from trainer.utils.benchmark.compare import Compare
from trainer.utils.benchmark.measurement import Measurement
from trainer.utils.benchmark.table import Colorize
from trainer.utils.benchmark.task_spec import TaskSpec
from trainer.utils.benchmark.timer import Language, Timer, set_torch_threads, timer
from trainer.utils.benchmark.units import ordered_unique, select_unit, trim_sigfig, unit_to_english

__all__ = [
    "Colorize",
    "Compare",
    "Language",
    "Measurement",
    "TaskSpec",
    "Timer",
    "ordered_unique",
    "select_unit",
    "set_torch_threads",
    "timer",
    "trim_sigfig",
    "unit_to_english",
]
