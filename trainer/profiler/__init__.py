"""``torch.profiler`` for trainer: op-level CPU timing of forward ops, backward nodes and user ranges, shown in
PyTorch's table layout and exported as Chrome traces."""

from trainer.profiler.events import EventList, FunctionEvent, FunctionEventAvg
from trainer.profiler.profile import (
    ProfilerActivity,
    profile,
    supported_activities,
    tensorboard_trace_handler,
)
from trainer.profiler.record_function import record_function
from trainer.profiler.schedule import ProfilerAction, schedule

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "ProfilerAction", "ProfilerActivity", "profile",
           "record_function", "schedule", "supported_activities", "tensorboard_trace_handler"]
