"""Passes over ``trainer.fx`` graphs."""

from trainer.fx.passes import shape_prop

__all__ = ["shape_prop"]
