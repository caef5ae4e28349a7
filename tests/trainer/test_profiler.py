"""trainer.profiler and trainer.autograd.profiler: op counts, nesting, schedules (against PyTorch's), traces, the
table layout (against PyTorch's), FLOPs (against PyTorch's), memory, and the cost of the hooks while off."""

import gzip
import json
import re
import warnings
from collections import Counter

import pytest
import torch

import trainer
from trainer.autograd import span_observers
from trainer.ops.arithmetic import Add
from trainer.profiler import ProfilerAction, ProfilerActivity, profile, record_function, schedule


def _small_step(lib):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.ReLU(), lib.nn.Linear(8, 2))
    x, target = lib.randn(5, 4), lib.randn(5, 2)
    loss = lib.nn.functional.mse_loss(model(x), target)
    loss.backward()


def test_calls_per_op_of_a_model_step():
    with profile() as prof:
        _small_step(trainer)
    counts = Counter(event.name for event in prof.events())
    assert counts == {"trainer::Linear": 2, "trainer::Relu": 1, "trainer::Sub": 1, "trainer::Mul": 1,
                      "trainer::Mean": 1, "LinearBackward0": 2, "ReluBackward0": 1, "SubBackward0": 1,
                      "MulBackward0": 1, "MeanBackward0": 1}
    averages = {a.key: a for a in prof.key_averages()}
    assert averages["trainer::Linear"].count == 2
    linear_runs = [e for e in prof.events() if e.name == "trainer::Linear"]
    assert averages["trainer::Linear"].cpu_time_total == pytest.approx(sum(e.cpu_time_total for e in linear_runs))
    assert averages["trainer::Linear"].cpu_time == pytest.approx(averages["trainer::Linear"].cpu_time_total / 2)
    # backward nodes run in reverse order of their forward ops, after all of them
    names = [e.name for e in prof.events()]
    assert names.index("MeanBackward0") > names.index("trainer::Mean")
    assert names.index("MeanBackward0") < names.index("LinearBackward0")


def test_record_function_nests_ops_for_totals_and_self_times():
    x = trainer.randn(3, 3, requires_grad=True)
    with profile() as prof:
        with record_function("outer"):
            y = x * 2
            with record_function("inner"):
                z = (y + 1).exp()
        z.sum().backward()
    events = {e.name: e for e in prof.events()}
    outer, inner = events["outer"], events["inner"]
    assert outer.cpu_parent is None and inner.cpu_parent is outer
    assert events["trainer::Mul"].cpu_parent is outer
    assert events["trainer::Add"].cpu_parent is inner and events["trainer::Exp"].cpu_parent is inner
    assert events["trainer::Sum"].cpu_parent is None and events["SumBackward0"].cpu_parent is None
    assert [c.name for c in outer.cpu_children] == ["trainer::Mul", "inner"]
    assert outer.self_cpu_time_total == pytest.approx(outer.cpu_time_total - events["trainer::Mul"].cpu_time_total
                                                      - inner.cpu_time_total)
    assert inner.time_range.start >= outer.time_range.start and inner.time_range.end <= outer.time_range.end
    total_self = sum(e.self_cpu_time_total for e in prof.events())
    top_level_total = sum(e.cpu_time_total for e in prof.events() if e.cpu_parent is None)
    assert total_self == pytest.approx(top_level_total)


def test_record_function_as_decorator_and_when_off():
    @record_function("helper")
    def helper(t):
        return t.sin()

    helper(trainer.ones(2))  # no profiler: nothing recorded, nothing raised
    with profile() as prof:
        helper(trainer.ones(2))
        helper(trainer.ones(2))
    helpers = [e for e in prof.events() if e.name == "helper"]
    assert len(helpers) == 2 and all([c.name for c in h.cpu_children] == ["trainer::Sin"] for h in helpers)
    with pytest.raises(TypeError, match="name as a str"):
        record_function(3)


def test_backward_nodes_nest_the_ops_of_a_create_graph_pass():
    x = trainer.tensor([0.5, 1.0], requires_grad=True)
    with profile() as prof:
        y = (x.sin() * x).sum()
        (g,) = trainer.autograd.grad(y, x, create_graph=True)
    nodes = [e for e in prof.events() if e.name == "SinBackward0"]
    assert len(nodes) == 1 and nodes[0].cpu_children  # the recorded backward ran ops
    assert all(c.name.startswith("trainer::") for c in nodes[0].cpu_children)


def test_an_op_that_raises_leaves_later_ops_at_top_level():
    a, b = trainer.ones(2, 3), trainer.ones(4, 5)
    with profile() as prof:
        with pytest.raises(RuntimeError):
            a @ b
        a.exp()
    assert [(e.name, e.cpu_parent) for e in prof.events()] == [("trainer::Exp", None)]


@pytest.mark.parametrize("args", [dict(wait=1, warmup=1, active=2), dict(wait=2, warmup=1, active=3, repeat=2),
                                  dict(wait=0, warmup=2, active=1, repeat=1, skip_first=3),
                                  dict(wait=3, warmup=1, active=2, skip_first=2, skip_first_wait=1)])
def test_schedule_actions_match_pytorch(args):
    ours, theirs = schedule(**args), torch.profiler.schedule(**args)
    assert [ours(step).name for step in range(30)] == [theirs(step).name for step in range(30)]


def test_schedule_rejects_what_pytorch_rejects():
    with pytest.raises(AssertionError, match="active=0"):
        torch.profiler.schedule(wait=1, warmup=1, active=0)
    with pytest.raises(AssertionError, match=r"active=0 \(need > 0\)"):
        schedule(wait=1, warmup=1, active=0)
    with pytest.raises(AssertionError, match=r"wait=-1 \(need >= 0\)"):
        schedule(wait=-1, warmup=1, active=1)
    with pytest.warns(UserWarning, match="warmup"):
        schedule(wait=1, warmup=0, active=1)


def _steps_per_trace(lib, args, n_steps):
    """At each on_trace_ready call: the step, how many step ranges and add ops the trace holds; and the action
    after each step."""
    traces, actions = [], []

    def ready(prof):
        names = [e.name for e in prof.events()]
        traces.append((prof.step_num, names.count("ProfilerStep*"), sum(n.lower().endswith("::add") for n in names)))

    x = lib.ones(3)
    with lib.profiler.profile(schedule=lib.profiler.schedule(**args), on_trace_ready=ready) as prof:
        for _ in range(n_steps):
            (x + 1).sum()
            prof.step()
            actions.append(prof.current_action.name)
    return traces, actions


@pytest.mark.parametrize("args", [dict(wait=1, warmup=1, active=2, repeat=2), dict(wait=1, warmup=1, active=2)])
def test_profile_step_semantics_match_pytorch(args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _steps_per_trace(trainer, args, 9)
        assert ours == _steps_per_trace(torch, args, 9)
    assert ours[0] == [(4, 2, 2), (8, 2, 2)]  # a trace every 4 steps, holding its 2 active steps


def test_step_ranges_keep_their_numbers_in_the_trace(tmp_path):
    with profile(schedule=schedule(wait=1, warmup=1, active=2)) as prof:
        for _ in range(3):
            trainer.ones(1).exp()
            prof.step()
    prof.export_chrome_trace(str(tmp_path / "t.json"))
    names = [e["name"] for e in json.loads((tmp_path / "t.json").read_text())["traceEvents"] if e["ph"] == "X"]
    assert [n for n in names if n.startswith("ProfilerStep")] == ["ProfilerStep#2", "ProfilerStep#3"]
    assert [e.name for e in prof.events()].count("ProfilerStep*") == 2


def test_chrome_trace_is_valid_trace_event_json(tmp_path):
    x = trainer.randn(4, 4, requires_grad=True)
    with profile(record_shapes=True) as prof:
        with record_function("block"):
            y = (x @ x).relu().sum()
        y.backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    assert isinstance(trace["traceEvents"], list)
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert {e["ph"] for e in trace["traceEvents"]} == {"X", "M"}
    assert len(complete) == len(prof.events())
    for e in complete:
        assert isinstance(e["name"], str) and isinstance(e["pid"], int) and isinstance(e["tid"], int)
        assert isinstance(e["ts"], float | int) and e["ts"] >= 0 and e["dur"] >= 0
        assert e["cat"] in ("cpu_op", "user_annotation") and isinstance(e["args"], dict)
    by_name = {e["name"]: e for e in complete}
    assert by_name["block"]["cat"] == "user_annotation"
    assert by_name["trainer::MatMul"]["args"]["Input Dims"] == [[4, 4], [4, 4]]
    block, matmul = by_name["block"], by_name["trainer::MatMul"]  # nesting survives as time containment
    assert block["ts"] <= matmul["ts"] and matmul["ts"] + matmul["dur"] <= block["ts"] + block["dur"] + 1e-3
    assert any(e["ph"] == "M" and e["name"] == "thread_name" for e in trace["traceEvents"])


def test_tensorboard_trace_handler_writes_one_file_per_cycle(tmp_path):
    handler = trainer.profiler.tensorboard_trace_handler(str(tmp_path / "logs"), worker_name="w0", use_gzip=True)
    with profile(schedule=schedule(wait=0, warmup=1, active=1, repeat=2), on_trace_ready=handler) as prof:
        for _ in range(5):
            trainer.ones(2).exp()
            prof.step()
    files = sorted((tmp_path / "logs").iterdir())
    assert len(files) == 2 and all(re.fullmatch(r"w0\.\d+\.pt\.trace\.json\.gz", f.name) for f in files)
    with gzip.open(files[0], "rt") as f:
        assert any(e["name"] == "trainer::Exp" for e in json.load(f)["traceEvents"])


def _columns(table_text):
    header = table_text.splitlines()[1]
    return re.split(r"\s{2,}", header.strip())


@pytest.mark.parametrize("options", [dict(), dict(record_shapes=True, profile_memory=True, with_flops=True)])
def test_table_columns_match_pytorch(options):
    def run(lib):
        with lib.profiler.profile(**options) as prof:
            a = lib.ones(3, 4)
            (a @ a.T).exp()
        return prof

    ours, theirs = run(trainer), run(torch)
    by_shape = bool(options.get("record_shapes"))
    our_table = ours.key_averages(group_by_input_shape=by_shape).table(sort_by="cpu_time_total", row_limit=10)
    their_table = theirs.key_averages(group_by_input_shape=by_shape).table(sort_by="cpu_time_total", row_limit=10)
    assert _columns(our_table) == _columns(their_table)
    assert our_table.splitlines()[-1].startswith("Self CPU time total: ")
    rows = our_table.splitlines()[3:-2]
    assert len(rows) == 3 and rows[0].split()[0] in ("trainer::MatMul", "trainer::Exp", "trainer::Transpose")
    calls = {row.split()[0]: int(re.split(r"\s{2,}", row.strip())[_columns(our_table).index("# of Calls")])
             for row in rows}
    assert calls == {"trainer::MatMul": 1, "trainer::Exp": 1, "trainer::Transpose": 1}
    assert len(ours.key_averages().table(row_limit=1).splitlines()) == 6


@pytest.mark.parametrize("case", [
    ("linear", lambda lib: lib.nn.functional.linear(lib.ones(2, 5, 4), lib.ones(3, 4), lib.ones(3))),
    ("bmm", lambda lib: lib.ones(2, 5, 2, 3) @ lib.ones(2, 5, 3, 4)),
    ("mm", lambda lib: lib.ones(6, 3) @ lib.ones(3, 7)),
    ("conv2d", lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 8), lib.ones(6, 2, 3, 2), stride=(2, 1),
                                                    padding=1, dilation=(1, 2), groups=2)),
])
def test_flops_match_pytorch(case):
    _, fn = case

    def total_flops(lib):
        with lib.profiler.profile(with_flops=True) as prof:
            fn(lib)
        return sum(e.flops for e in prof.events())

    assert total_flops(trainer) == total_flops(torch) > 0


def test_profile_memory_counts_bytes_of_outputs_that_own_memory():
    x = trainer.ones(4, 6, dtype=trainer.float64)
    with profile(profile_memory=True) as prof:
        with record_function("block"):
            y = x.exp()
            x.reshape(6, 4)  # a view: nothing allocated
    events = {e.name: e for e in prof.events()}
    assert events["trainer::Exp"].self_cpu_memory_usage == 4 * 6 * 8
    assert events["trainer::Reshape"].self_cpu_memory_usage == 0
    assert events["block"].cpu_memory_usage == 4 * 6 * 8 and events["block"].self_cpu_memory_usage == 0
    assert "CPU Mem" in _columns(prof.key_averages().table()) and y.shape == (4, 6)


def test_with_stack_names_the_calling_line():
    with profile(with_stack=True) as prof:
        trainer.ones(2).exp()
    (event,) = prof.events()
    assert re.fullmatch(r".*test_profiler\.py\(\d+\): test_with_stack_names_the_calling_line", event.stack[0])


def test_legacy_autograd_profiler():
    x = trainer.ones(2, 2, requires_grad=True)
    with trainer.autograd.profiler.profile(record_shapes=True) as prof:
        with trainer.autograd.profiler.record_function("legacy"):
            x.exp().sum().backward()
    assert [e.name for e in prof.function_events] == ["legacy", "trainer::Exp", "trainer::Sum", "SumBackward0",
                                                       "ExpBackward0"]
    assert prof.function_events[1].input_shapes == [[2, 2]]
    assert "# of Calls" in prof.table() and prof.self_cpu_time_total > 0
    with pytest.raises(RuntimeError, match="not reentrant"):
        with prof:
            pass
    off = trainer.autograd.profiler.profile(enabled=False)
    with off:
        x.exp()
    with pytest.raises(RuntimeError, match="didn't finish running"):
        off.key_averages()


def test_activities_and_events_before_a_trace():
    assert ProfilerActivity.CPU in trainer.profiler.supported_activities()
    with pytest.raises(TypeError, match="ProfilerActivity"):
        profile(activities=["cpu"])
    prof = profile(schedule=schedule(wait=1, warmup=1, active=1))
    with pytest.raises(RuntimeError, match="no finished trace"):
        prof.events()
    assert prof.current_action is ProfilerAction.NONE


def test_no_hook_runs_while_no_profiler_is_active(monkeypatch):
    """The hooks stay out of the hot path when off: a forward and a backward run without reaching them (a timed
    comparison belongs in a benchmark, not in a test on a shared 2-core machine)."""

    def reached(*args, **kwargs):
        raise AssertionError("a profiler hook ran while no profiler was active")

    monkeypatch.setattr(span_observers, "notify_op_start", reached)
    monkeypatch.setattr(span_observers, "observed_backward", reached)
    x = trainer.ones(3, requires_grad=True)
    (Add.apply(x, x) * 2.0).sum().backward()
    monkeypatch.undo()
    with profile() as prof:
        Add.apply(x, x)
    assert any(event.name == "trainer::Add" for event in prof.events())  # the same hooks do run under a profiler
