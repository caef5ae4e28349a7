"""``torch.func.vmap``: a function mapped over a dimension of its inputs.

trainer's ops have no batching rules, so ``vmap`` runs the function once per index of the mapped dimension, on
the slices of the inputs, and stacks the results. That is correct for every op and composes with the other
transforms (``vmap(grad(f))`` gives per-sample gradients, and ``grad`` of a vmapped function differentiates
through the slicing and stacking), but it is a Python loop: not faster than writing the loop by hand.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

import trainer
from trainer.autograd import function_transforms
from trainer.func.pytree import broadcast_prefix, tree_flatten, tree_map, tree_unflatten
from trainer.func.random_draws import GeneratorStates, check_no_random_draws
from trainer.tensor import Tensor


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size: int | None = None):
    """``func`` mapped over dimension ``in_dims`` of its inputs, the results stacked along ``out_dims``.

    ``in_dims`` is an int (or None: not mapped) for all arguments, or a tuple with one entry per positional
    argument, itself nested like a pytree argument; ``out_dims`` likewise for the outputs. Keyword arguments
    are passed unmapped. ``randomness``: ``"error"`` refuses random draws in ``func``; ``"different"`` draws anew
    for each slice; ``"same"`` gives every slice the same draws. ``chunk_size`` runs that many slices at a time,
    each chunk stacked, then the chunks concatenated (the default is one chunk)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        _check_out_dims(out_dims, func)
        batch_size, flat_in_dims, flat_args, args_spec = _mapped_inputs(in_dims, args, func)
        with check_no_random_draws() if randomness == "error" else contextlib.nullcontext():
            if batch_size == 0:
                return _empty_batch(func, flat_in_dims, flat_args, args_spec, kwargs, out_dims, randomness)
            states = GeneratorStates() if randomness == "same" else None
            step = chunk_size or batch_size
            chunks = []
            for start in range(0, batch_size, step):
                slices = []
                for index in range(start, min(start + step, batch_size)):
                    if states is not None:
                        states.restore()
                    sliced = [arg if dim is None else arg.select(dim, index)
                              for arg, dim in zip(flat_args, flat_in_dims)]
                    with function_transforms.transform("vmap", randomness):
                        slices.append(func(*tree_unflatten(sliced, args_spec), **kwargs))
                chunks.append(_stack_slices(func, slices, out_dims))
        return chunks[0] if len(chunks) == 1 else _concatenate_chunks(chunks, out_dims)

    return wrapped


def _name(func) -> str:
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return repr(func)


def _check_out_dims(out_dims, func) -> None:
    for dim in ([out_dims] if isinstance(out_dims, int) else tree_flatten(out_dims)[0]):
        if dim is not None and not isinstance(dim, int):
            raise ValueError(f"vmap({_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a "
                             "python collection of ints representing where in the outputs the vmapped dimension "
                             "should appear.")


def _mapped_inputs(in_dims, args: tuple, func):
    """``(batch size, mapped dimension per flat argument, flat arguments, their structure)``, checked as PyTorch
    checks them."""
    where = f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>)"
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"{where}: expected `in_dims` to be int or a (potentially nested) tuple matching the "
                         f"structure of inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({_name(func)})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are "
                         "trying to vmap over a function with no inputs. The latter is unsupported.")
    flat_args, args_spec = tree_flatten(args)
    flat_in_dims = broadcast_prefix(in_dims, args_spec)
    if flat_in_dims is None:
        raise ValueError(f"{where}: in_dims is not compatible with the structure of `inputs`. in_dims has structure "
                         f"{tree_flatten(in_dims)[1]} but inputs has structure {args_spec}.")
    for i, (arg, in_dim) in enumerate(zip(flat_args, flat_in_dims)):
        if in_dim is None:
            continue
        if not isinstance(in_dim, int):
            raise ValueError(f"{where}: Got in_dim={in_dim} for an input but in_dim must be either an integer "
                             "dimension or None.")
        if not isinstance(arg, Tensor):
            raise ValueError(f"{where}: Got in_dim={in_dim} for an input but the input is of type {type(arg)}. We "
                             "cannot vmap over non-Tensor arguments, please use None as the respective in_dim")
        if not -arg.dim() <= in_dim < arg.dim():
            raise ValueError(f"{where}: Got in_dim={in_dim} for some input, but that input is a Tensor of "
                             f"dimensionality {arg.dim()} so expected in_dim to satisfy -{arg.dim()} <= in_dim < "
                             f"{arg.dim()}.")
        flat_in_dims[i] = in_dim % arg.dim()
    sizes = [arg.shape[dim] for arg, dim in zip(flat_args, flat_in_dims) if dim is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(size != sizes[0] for size in sizes):
        raise ValueError("vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0], flat_in_dims, flat_args, args_spec


def _concatenate_chunks(chunks: list, out_dims):
    """The stacked outputs of consecutive chunks of slices joined along their mapped dimensions."""
    spec = tree_flatten(chunks[0])[1]
    flat_chunks = [tree_flatten(chunk)[0] for chunk in chunks]
    return tree_unflatten([parts[0] if dim is None else trainer.cat(list(parts), dim)
                           for dim, parts in zip(_flat_out_dims(None, out_dims, chunks[0], spec), zip(*flat_chunks))],
                          spec)


def _stack_slices(func, slices: list, out_dims):
    """The per-slice outputs of ``func`` (pytrees of one structure) stacked along ``out_dims``."""
    flat_slices = []
    spec = None
    for output in slices:
        flat, output_spec = tree_flatten(output)
        if spec is None:
            spec = output_spec
        elif output_spec != spec:
            raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` returned outputs of different structures "
                             f"for different slices ({spec} and {output_spec}); the outputs' structure must not "
                             "depend on the values mapped over")
        flat_slices.append(flat)
    flat_out_dims = _flat_out_dims(func, out_dims, slices[0], spec)
    return tree_unflatten([_stack_one(func, list(parts), dim) for dim, parts in zip(flat_out_dims, zip(*flat_slices))],
                          spec)


def _flat_out_dims(func, out_dims, output, spec) -> list:
    if isinstance(output, Tensor):
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        if out_dims is None or isinstance(out_dims, int):
            return [out_dims]
        flat = None
    else:
        flat = broadcast_prefix(out_dims, spec)
    if flat is None:
        raise ValueError(f"vmap({_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with "
                         f"the structure of `outputs`. out_dims has structure {tree_flatten(out_dims)[1]} but outputs "
                         f"has structure {spec}.")
    return flat


def _stack_one(func, parts: list, out_dim):
    """One output's slices stacked along ``out_dim``; with ``out_dim`` None the one unmapped value, which must be
    the same for every slice (an output that varies with the slice is a batched one)."""
    name = _name(func)
    if out_dim is None:
        first = parts[0]
        if isinstance(first, Tensor) and not all(_same_tensor(p, first) for p in parts[1:]):
            raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None")
        return first
    for part in parts:
        if not isinstance(part, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(part)}. Did you "
                             "mean to set out_dims= to None for output?")
    return trainer.stack(parts, out_dim)


def _same_tensor(value, reference: Tensor) -> bool:
    if not isinstance(value, Tensor) or value.shape != reference.shape or value.dtype != reference.dtype:
        return False
    return bool(np.array_equal(value.detach().cpu().numpy(), reference.detach().cpu().numpy(), equal_nan=True))


def _empty_batch(func, flat_in_dims, flat_args, args_spec, kwargs, out_dims, randomness):
    """vmap over a mapped dimension of size 0: ``func`` runs once on zero-filled slices, only to learn the
    structure, shapes and dtypes of its outputs, which are returned with a mapped dimension of size 0. What it
    draws is given back (no slice drew anything), except in ``"error"`` mode, where drawing is the error."""
    example = [arg if dim is None else arg.new_zeros(*(s for d, s in enumerate(arg.shape) if d != dim))
               for arg, dim in zip(flat_args, flat_in_dims)]
    states = GeneratorStates()
    with function_transforms.transform("vmap", randomness):
        output = func(*tree_unflatten(example, args_spec), **kwargs)
    if randomness != "error":
        states.restore()
    _, spec = tree_flatten(output)
    flat_out_dims = iter(_flat_out_dims(func, out_dims, output, spec))

    def empty(value):
        out_dim = next(flat_out_dims)
        if out_dim is None:
            return value
        return _stack_one(func, [value], out_dim).narrow(out_dim, 0, 0)

    return tree_map(empty, output)

