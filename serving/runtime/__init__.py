"""The runtime's machinery: loading a model, planning it once, and walking the plan."""
