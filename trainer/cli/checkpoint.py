"""The run state ``sardonyx-train`` checkpoints after every epoch, and its restoration for ``--resume``.

Bitwise-identical resumption needs more than weights: the optimizer's and the schedule's state, the number of
finished epochs, and every random stream the rest of the run draws from: the default CPU generator (dropout,
noise, initialisation) and the DataLoader's own shuffling generator. On CUDA the device's default generator is
saved too where its backend can report its state; where it cannot, a resumed GPU run draws fresh dropout masks
and noise, so it is not bitwise identical to an uninterrupted one.
"""

from __future__ import annotations

import os

import trainer
from trainer.cli.errors import RunError
from trainer.random import default_generator

CHECKPOINT_FILE = "checkpoint.safetensors"
FORMAT = "sardonyx-train/1"


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
    states = {"cpu": default_generator(trainer.device("cpu")).get_state(), "loader": loader_generator.get_state()}
    if device.type != "cpu":
        try:
            states[device.type] = default_generator(device).get_state()
        except AttributeError:  # CuPy's cuRAND bit generators keep their state on the GPU and do not expose it
            pass
    return states


def set_rng_states(states: dict, loader_generator: trainer.Generator, device: trainer.device) -> None:
    default_generator(trainer.device("cpu")).set_state(states["cpu"])
    loader_generator.set_state(states["loader"])
    if device.type != "cpu" and device.type in states:
        default_generator(device).set_state(states[device.type])


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
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise RunError(f"--resume: {path} is not a sardonyx-train checkpoint")
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
