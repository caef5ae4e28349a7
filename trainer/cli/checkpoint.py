"""The run state ``sardonyx-train`` checkpoints after every epoch, and its restoration for ``--resume``.

Bitwise-identical resumption needs more than weights: the optimizer's and the schedule's state, the number of
finished epochs, and every random stream the rest of the run draws from: the default CPU generator (dropout,
noise, initialisation) and the DataLoader's own shuffling generator, and on CUDA the device's default generator.
Their uint8 state tensors are kept as hex strings in the checkpoint's plain data.
"""

from __future__ import annotations

import os

import numpy as np

import trainer
from trainer.cli.errors import RunError
from trainer.random import device_generator

CHECKPOINT_FILE = "checkpoint.safetensors"
# 2: the random streams' states are the hex of each generator's state tensor (1 kept NumPy's state dicts)
FORMAT = "sardonyx-train/2"


def checkpoint_path(out: str) -> str:
    return os.path.join(out, CHECKPOINT_FILE)


def _states(obj):
    """``state_dict()`` of an optimizer or schedule, or a dict of them (a GAN's two optimizers); None stays None."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return {name: item.state_dict() for name, item in obj.items()}
    return obj.state_dict()


def _load_states(obj, states) -> None:
    if obj is None:
        return
    if isinstance(obj, dict):
        for name, item in obj.items():
            item.load_state_dict(states[name])
    else:
        obj.load_state_dict(states)


def rng_states(loader_generator: trainer.Generator, device: trainer.device) -> dict:
    generators = {"cpu": device_generator(trainer.device("cpu")), "loader": loader_generator}
    if device.type != "cpu":
        generators[device.type] = device_generator(device)
    return {name: gen.get_state().numpy().tobytes().hex() for name, gen in generators.items()}


def set_rng_states(states: dict, loader_generator: trainer.Generator, device: trainer.device) -> None:
    def state(name):
        return trainer.from_numpy(np.frombuffer(bytes.fromhex(states[name]), dtype=np.uint8).copy())

    device_generator(trainer.device("cpu")).set_state(state("cpu"))
    loader_generator.set_state(state("loader"))
    if device.type != "cpu" and device.type in states:
        device_generator(device).set_state(state(device.type))


def save_checkpoint(out: str, *, recipe: str, epoch: int, config: dict, model, optimizer, scheduler,
                    loader_generator: trainer.Generator, device: trainer.device, history: list[dict], step: int):
    """Write the state after ``epoch`` finished epochs to ``OUT/checkpoint.safetensors`` (atomically)."""
    trainer.save({
        "format": FORMAT,
        "recipe": recipe,
        "epoch": epoch,
        "step": step,
        "config": config,
        "model": model.state_dict(),
        "optimizer": _states(optimizer),
        "scheduler": _states(scheduler),
        "rng": rng_states(loader_generator, device),
        "history": history,
    }, checkpoint_path(out))


def load_checkpoint(out: str, recipe: str, device: trainer.device) -> dict:
    """The checkpoint in ``out`` with its tensors on ``device``, checked to be a ``sardonyx-train`` checkpoint of
    ``recipe``."""
    path = checkpoint_path(out)
    if not os.path.isfile(path):
        raise RunError(f"--resume: no checkpoint at {path}; start the run without --resume")
    state = trainer.load(path, map_location=device)
    if not isinstance(state, dict) or not str(state.get("format", "")).startswith("sardonyx-train/"):
        raise RunError(f"--resume: {path} is not a sardonyx-train checkpoint")
    if state["format"] != FORMAT:
        raise RunError(f"--resume: {path} is in checkpoint format {state['format']!r}, this sardonyx-train reads "
                       f"{FORMAT!r}; resume it with the version that wrote it, or start the run without --resume")
    if state["recipe"] != recipe:
        raise RunError(f"--resume: {path} was written by recipe {state['recipe']!r}, not {recipe!r}; "
                         f"pass that recipe or another --out")
    return state


def restore(state: dict, *, model, optimizer, scheduler, loader_generator: trainer.Generator,
            device: trainer.device) -> None:
    """Put a loaded checkpoint's model, optimizer, schedule and random streams back in place."""
    model.load_state_dict(state["model"])
    _load_states(optimizer, state["optimizer"])
    _load_states(scheduler, state["scheduler"])
    set_rng_states(state["rng"], loader_generator, device)
