"""The sliding-window geometry convolutions and pools share: each kernel position ("tap") reads one strided
view of the padded input that covers every output position at once, so the ops loop over taps, never pixels.
The slices index the trailing spatial axes of an array of any leading rank."""

from __future__ import annotations

import itertools


def taps(kernel):
    """Every kernel position, as a tuple of per-axis offsets, in C order."""
    return itertools.product(*(range(k) for k in kernel))


def window(tap, dilation, stride, out):
    """The index of the padded input that kernel position ``tap`` reads for every output position."""
    return (Ellipsis,) + tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                               for t, d, s, o in zip(tap, dilation, stride, out))


def inside(pads, spatial):
    """The index of a padded buffer that holds the unpadded input (``pads`` holds the leading pads per axis)."""
    return (Ellipsis,) + tuple(slice(p, p + s) for p, s in zip(pads, spatial))
