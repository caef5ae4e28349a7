# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials recipes_source/recipes/profiler_recipe.py (torch.profiler: record_function labels, tables by
operator and by input shape, memory, a Chrome trace, stacks, and a schedule with on_trace_ready), shortened: torchvision's
resnet18 replaced by a small convolutional network, a small batch, the CPU activity only."""

import json

import torch
import torch.nn as nn
from torch.profiler import profile, record_function, ProfilerActivity


def small_model():
    """Stands in for torchvision.models.resnet18()."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 10))


def main(directory):
    seen = {}
    model = small_model()
    inputs = torch.randn(2, 3, 16, 16)

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("model_inference"):
            model(inputs)

    table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=10)
    print(table)
    seen['labelled'] = 'model_inference' in table
    print(prof.key_averages(group_by_input_shape=True).table(sort_by="cpu_time_total", row_limit=10))
    seen['names'] = {event.key for event in prof.key_averages()}

    with profile(activities=[ProfilerActivity.CPU],
            profile_memory=True, record_shapes=True) as prof:
        model(inputs)

    print(prof.key_averages().table(sort_by="self_cpu_memory_usage", row_limit=10))
    print(prof.key_averages().table(sort_by="cpu_memory_usage", row_limit=10))

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model(inputs)

    prof.export_chrome_trace(str(directory / "trace.json"))
    seen['trace'] = json.loads((directory / "trace.json").read_text())

    with profile(
        activities=[ProfilerActivity.CPU],
        with_stack=True,
    ) as prof:
        model(inputs)

    # Print aggregated stats
    print(prof.key_averages(group_by_stack_n=5).table(sort_by="self_cpu_time_total", row_limit=2))

    steps = []

    def trace_handler(p):
        output = p.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)
        print(output)
        p.export_chrome_trace(str(directory / ("trace_" + str(p.step_num) + ".json")))
        steps.append(p.step_num)

    with profile(
        activities=[ProfilerActivity.CPU],
        schedule=torch.profiler.schedule(
            wait=1,
            warmup=1,
            active=2),
        on_trace_ready=trace_handler
    ) as p:
        for idx in range(8):
            model(inputs)
            p.step()
    seen['steps'] = steps
    return seen
