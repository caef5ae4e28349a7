"""``argnums``: which positional arguments a transform differentiates, checked and picked as torch.func does."""

from __future__ import annotations


def _wrap_argnum(argnum, num_args: int) -> int:
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if -num_args <= argnum < num_args:
        return argnum % num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def slice_argnums(args: tuple, argnums, as_tuple: bool = True):
    """The arguments at ``argnums`` (an int or a non-empty tuple of distinct ints, negative ones counted from the
    end): a tuple of them, or with ``as_tuple=False`` and an int ``argnums`` the argument itself."""
    if not isinstance(argnums, (int, tuple)):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    if isinstance(argnums, int):
        picked = args[_wrap_argnum(argnums, len(args))]
        return (picked,) if as_tuple else picked
    wrapped = tuple(_wrap_argnum(argnum, len(args)) for argnum in argnums)
    if not wrapped:
        raise RuntimeError("argnums must be non-empty")
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return tuple(args[i] for i in wrapped)


def replace_argnums(args: tuple, argnums, new_values) -> tuple:
    """``args`` with the arguments at ``argnums`` replaced by ``new_values`` (what ``slice_argnums`` gave, or
    the single argument for an int ``argnums``)."""
    if isinstance(argnums, int):
        position = _wrap_argnum(argnums, len(args))
        return tuple(new_values if i == position else arg for i, arg in enumerate(args))
    positions = [_wrap_argnum(argnum, len(args)) for argnum in argnums]
    replaced = list(args)
    for position, value in zip(positions, new_values):
        replaced[position] = value
    return tuple(replaced)
