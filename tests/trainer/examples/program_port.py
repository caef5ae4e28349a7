"""Loads a PyTorch example program twice: as written (``import torch``) and ported, where the only change is
the one a user makes, ``import torch`` -> ``import trainer as torch`` (and ``torch.x`` -> ``trainer.x`` in imports). A
program may import another of ``programs/`` by its name; that one is loaded the same way.

The programs live in ``programs/`` as ordinary PyTorch code; this module never edits anything but import lines.
"""

import re
import sys
import types
from pathlib import Path

import numpy as np

PROGRAMS = Path(__file__).parent / "programs"

_PORTS = (
    (re.compile(r"^(\s*)import torch$", re.M), r"\1import trainer as torch"),
    (re.compile(r"^(\s*)import torch\.([\w.]+) as (\w+)$", re.M), r"\1import trainer.\2 as \3"),
    # ``import torch.utils.data`` binds ``torch``; the ported line must not rebind it to PyTorch
    (re.compile(r"^(\s*)import torch\.([\w.]+)$", re.M), r"\1import trainer.\2"),
    (re.compile(r"^(\s*)from torch(\.[\w.]+)? import ", re.M), r"\1from trainer\2 import "),
)


def port(source: str) -> str:
    """The program as a trainer user runs it: only its import lines change."""
    for pattern, replacement in _PORTS:
        source = pattern.sub(replacement, source)
    return source


_SIBLING_IMPORT = re.compile(r"^(\s*)from (\w+) import ", re.M)


def _with_siblings(source: str, lib: str) -> str:
    """A program importing another of ``programs/`` (as torchvision's models import ``torchvision.ops``) gets that
    program loaded with the same ``lib``: the import line names the loaded module."""
    def sibling(match):
        if not (PROGRAMS / f"{match[2]}.py").exists():
            return match[0]
        return f"{match[1]}from {load(match[2], lib).__name__} import "

    return _SIBLING_IMPORT.sub(sibling, source)


def load(name: str, lib: str) -> types.ModuleType:
    """Executes ``programs/<name>.py`` with ``lib`` ("torch" or "trainer") as its ``torch``."""
    path = PROGRAMS / f"{name}.py"
    source = path.read_text()
    if lib == "trainer":
        source = port(source)
    source = _with_siblings(source, lib)
    module = types.ModuleType(f"example_{name}_{lib}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses and pickling look classes up by module name
    exec(compile(source, str(path), "exec"), module.__dict__)
    if lib == "trainer":  # a missed import would silently run PyTorch
        leaked = [name for name, value in vars(module).items()
                  if getattr(value, "__name__", "").split(".")[0] == "torch"
                  or (getattr(value, "__module__", "") or "").split(".")[0] == "torch"]  # builtin methods: None
        assert not leaked, f"{name} still uses PyTorch through {leaked}"
    return module


def copy_weights(source_model, target_model) -> None:
    """Gives the trainer model the torch model's exact parameters and buffers (same state_dict keys)."""
    import trainer

    state = {key: trainer.tensor(value.detach().cpu().numpy()) for key, value in source_model.state_dict().items()}
    target_model.load_state_dict(state)


_DROPOUT_PROBABILITY_HOLDERS = ("LSTM", "GRU", "RNN", "MultiheadAttention")


def without_dropout(model):
    """Sets every dropout probability to 0 so that a training run is deterministic and comparable across libraries;
    the program's code is unchanged."""
    for module in model.modules():
        if "Dropout" in type(module).__name__:
            module.p = 0.0
        # (a program's own class named RNN may hold a Dropout module as ``dropout``)
        elif type(module).__name__ in _DROPOUT_PROBABILITY_HOLDERS and isinstance(module.dropout, float):
            module.dropout = 0.0
    return model


def assert_close(trainer_values, torch_values, rtol=1e-4, atol=1e-5) -> None:
    ours = np.asarray([float(v) for v in trainer_values])
    theirs = np.asarray([float(v) for v in torch_values])
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def as_numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def pair(name: str):
    """The program ``name`` loaded for torch and for trainer: ``(torch's, trainer's)``."""
    return load(name, "torch"), load(name, "trainer")
