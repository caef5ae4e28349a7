"""trainer.utils.benchmark against torch.utils.benchmark: printed layouts and statistics from the same raw times,
how often Timer runs the statement, its namespace and thread handling, and errors for bad arguments."""

import importlib
import random
import sys

import pytest
import torch.utils.benchmark as torch_benchmark

import trainer
import trainer.utils.benchmark as benchmark
from tests.trainer.test_ops_parity import assert_raises_like_torch

LIBS = (torch_benchmark, benchmark)
# The package's ``timer`` attribute is the clock function (as in PyTorch), so reach the module by name.
timer_module = importlib.import_module("trainer.utils.benchmark.timer")


def _body(measurement_repr: str) -> str:
    """A Measurement's repr without its first line (``<module.Measurement object at 0x...>``)."""
    first, _, rest = measurement_repr.partition("\n")
    assert first.startswith("<") and first.endswith(">") and "Measurement object at 0x" in first
    return rest


def _pair(number_per_run, raw_times, **spec):
    """The same measurement built in torch and in trainer."""
    return tuple(lib.Measurement(number_per_run, list(raw_times), lib.TaskSpec(**spec)) for lib in LIBS)


REPR_CASES = [
    # one replicate: no "Median:" prefix, no IQR line, singular wording
    (1000, [2.5e-3], dict(stmt="x + y", setup="pass")),
    # fewer than four replicates: no IQR line; label, sub_label and description
    (10, [1e-5, 1.3e-5, 1.1e-5], dict(stmt="x + y", setup="pass", label="add", sub_label="float", description="n=8")),
    # tight spread, several threads, one-line setup; times in ns
    (100, [5.01e-7, 5.02e-7, 5.0e-7, 5.03e-7, 5.015e-7], dict(stmt="f()", setup="x = 1", num_threads=4)),
    # moderate spread: "system fluctuation" warning; sub_label without label
    (1, [1e-3, 1.2e-3, 1.1e-3, 0.9e-3, 1.5e-3], dict(stmt="g(x)", setup="pass", sub_label="int")),
    # gross spread: "environmental influence" warning; multi-line stmt and setup give indented blocks
    (1, [1.0, 2.0, 3.0, 4.0, 9.0, 1.5], dict(stmt="a = 1\nb = a", setup="x = 1\ny = 2", description="big")),
    # multi-line stmt with a sub_label, label absent; times in seconds
    (2, [3.0, 3.1, 3.05, 2.95], dict(stmt="for _ in range(3):\n    pass", setup="", sub_label="loop")),
]


@pytest.mark.parametrize("number_per_run, raw_times, spec", REPR_CASES)
def test_measurement_repr_matches_torch(number_per_run, raw_times, spec):
    expected, actual = _pair(number_per_run, raw_times, **spec)
    assert _body(repr(actual)) == _body(repr(expected))
    assert repr(actual).startswith("<trainer.utils.benchmark.measurement.Measurement object at 0x")


def test_measurement_repr_example():
    (m,) = _pair(100, [4.01e-4, 6.26e-4, 5.73e-4, 5.0e-4], stmt="x + y", setup="pass", label="Broadcasting add")[1:]
    assert _body(repr(m)) == (
        "Broadcasting add\n"
        "  Median: 5.37 us\n"
        "  IQR:    1.11 us (4.75 to 5.86)\n"
        "  4 measurements, 100 runs per measurement, 1 thread\n"
        "  WARNING: Interquartile range is 20.7% of the median measurement.\n"
        "           This could indicate system fluctuation."
    )


def _random_measurements(rng, count):
    for _ in range(count):
        n = rng.choice([1, 2, 3, 4, 5, 7, 10, 33])
        base = 10 ** rng.uniform(-9.5, 1)
        spread = rng.choice([0.0, 0.001, 0.05, 0.2, 0.5])
        raw_times = [base * (1 + spread * rng.random()) for _ in range(n)]
        spec = dict(stmt=rng.choice(["x + y", "a\nb"]), setup=rng.choice(["pass", "x=1", "x=1\ny=2"]),
                    label=rng.choice([None, "L"]), sub_label=rng.choice([None, "s"]),
                    description=rng.choice([None, "d"]), env=rng.choice([None, "E"]), num_threads=rng.choice([1, 4]))
        yield rng.choice([1, 10, 1000]), raw_times, spec


def test_statistics_and_fields_match_torch():
    rng = random.Random(0)
    for number_per_run, raw_times, spec in _random_measurements(rng, 150):
        expected, actual = _pair(number_per_run, raw_times, **spec)
        assert _body(repr(actual)) == _body(repr(expected))
        assert actual.times == expected.times
        assert actual.median == expected.median
        assert actual.iqr == expected.iqr
        assert actual.mean == pytest.approx(expected.mean, rel=1e-14, abs=0)
        assert actual.significant_figures == expected.significant_figures
        assert actual.has_warnings == expected.has_warnings
        assert actual.meets_confidence(0.02) == expected.meets_confidence(0.02)
        for name in ("title", "env", "as_row_name", "stmt", "setup", "label", "sub_label", "description",
                     "num_threads", "number_per_run", "raw_times", "metadata"):
            assert getattr(actual, name) == getattr(expected, name), name


def test_significant_figures_follow_the_spread():
    tight, loose = (_pair(1, [1e-3 * (1 + s * i / 10) for i in range(10)], stmt="f()", setup="pass")[1]
                    for s in (1e-5, 0.5))
    assert tight.significant_figures == 4 and loose.significant_figures == 1
    assert not tight.has_warnings and loose.has_warnings


def test_merge_matches_torch():
    spec_a = dict(stmt="f()", setup="pass", label="L", description="a")
    spec_b = dict(stmt="f()", setup="pass", label="L", description="b")
    runs = [(10, [1e-3, 2e-3], spec_a), (100, [5e-2], spec_b), (1, [3e-4, 1e-4], spec_a)]
    merged = [lib.Measurement.merge([lib.Measurement(n, raw, lib.TaskSpec(**s)) for n, raw, s in runs])
              for lib in LIBS]
    assert len(merged[1]) == len(merged[0]) == 2
    for expected, actual in zip(*merged):
        assert actual.number_per_run == expected.number_per_run == 1
        assert actual.raw_times == expected.raw_times
        assert actual.metadata is None
        assert actual.task_spec == benchmark.TaskSpec(**{f: getattr(expected.task_spec, f) for f in (
            "stmt", "setup", "global_setup", "label", "sub_label", "description", "env", "num_threads")})


def _compare_outputs(data, trim, colorize, highlight):
    outputs = []
    for lib in LIBS:
        compare = lib.Compare([lib.Measurement(n, raw, lib.TaskSpec(**spec)) for n, raw, spec in data])
        if trim:
            compare.trim_significant_figures()
        if colorize is not None:
            compare.colorize(rowwise=colorize)
        if highlight:
            compare.highlight_warnings()
        outputs.append(str(compare))
    return outputs


def test_compare_layout_example():
    rng = random.Random(3)
    data = []
    for sub_label in ("float", "int"):
        for description, size in (("n=1", 1e-6), ("n=100", 3e-5)):
            for threads in (1, 4):
                raw = [size / threads * (1 + 0.3 * rng.random()) for _ in range(8)]
                data.append((10, raw, dict(stmt="torch.add(x, 1)", setup="pass", label="add", sub_label=sub_label,
                                           description=description, num_threads=threads)))
    expected, actual = _compare_outputs(data, trim=True, colorize=None, highlight=True)
    assert actual == expected
    assert actual == (
        "[------------------ add -------------------]\n"
        "             |      n=1      |     n=100    \n"
        "1 threads: ---------------------------------\n"
        "      float  |  100 (! 11%)  |  4000        \n"
        "      int    |  100 (! 17%)  |  4000        \n"
        "4 threads: ---------------------------------\n"
        "      float  |   30 (! 11%)  |   900 (! 11%)\n"
        "      int    |    30         |   900        \n"
        "\n"
        "Times are in nanoseconds (ns).\n"
        "(! XX%) Measurement has high variance, where XX is the IQR / median * 100.\n"
    )


def test_compare_layouts_match_torch():
    rng = random.Random(1)
    for _ in range(40):
        envs = rng.choice([[None], ["A", "B2"], ["A"]])
        specs = [
            dict(stmt="f(x)", setup="pass", label=label, sub_label=sub_label, description=description,
                 num_threads=threads, env=env)
            for label in rng.sample(["L1", "L2"], rng.randint(1, 2))
            for sub_label in rng.sample(["float", "int", "double"], rng.randint(1, 3))
            for description in rng.sample(["n=1", "n=10", "n=100"], rng.randint(1, 3))
            for threads in rng.sample([1, 4], rng.randint(1, 2))
            for env in envs
            if rng.random() < 0.85
        ]
        data = [
            (rng.choice([1, 100]),
             [base * (1 + spread * rng.random()) for _ in range(rng.randint(1, 12))],
             spec)
            for spec in specs
            for _replicate in range(rng.randint(1, 2))
            for base, spread in [(10 ** rng.uniform(-8, -1), rng.choice([0.001, 0.05, 0.3]))]
        ]
        if not data:
            continue
        trim, colorize, highlight = rng.random() < 0.5, rng.choice([None, False, True]), rng.random() < 0.5
        expected, actual = _compare_outputs(data, trim, colorize, highlight)
        assert actual == expected


def test_compare_print_writes_the_table(capsys):
    m = benchmark.Measurement(1, [1e-3, 1.1e-3], benchmark.TaskSpec("f()", "pass", label="L", description="d"))
    compare = benchmark.Compare([m])
    compare.print()
    assert capsys.readouterr().out == str(compare) + "\n"


def test_compare_renders_mixed_env_and_missing_description():
    # PyTorch raises TypeError for these (it sorts and measures None); trainer names the missing values instead.
    ms = [benchmark.Measurement(1, [1e-3], benchmark.TaskSpec("f()", "pass", label="L", env=env))
          for env in (None, "B")]
    text = str(benchmark.Compare(ms))
    assert "(Unspecified env)" in text and "(B)" in text
    assert text.splitlines()[1].split("|")[0].strip() == ""


def test_unit_helpers_match_torch():
    for t in (1e-10, 1e-9, 9.99e-7, 1e-6, 2.5e-4, 1e-3, 0.5, 1.0, 12.0, 1e4):
        assert benchmark.select_unit(t) == torch_benchmark.select_unit(t)
    for unit in ("ns", "us", "ms", "s"):
        assert benchmark.unit_to_english(unit) == torch_benchmark.unit_to_english(unit)
    for x in (3.14159, 0.000123456, 123456.7, 99.95, 1.0, 0.5, 12.5):
        for n in (1, 2, 3, 4):
            assert benchmark.trim_sigfig(x, n) == torch_benchmark.trim_sigfig(x, n)
    assert benchmark.ordered_unique([3, 1, 3, 2, 1]) == torch_benchmark.ordered_unique([3, 1, 3, 2, 1]) == [3, 1, 2]


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


def test_timeit_runs_warmup_then_number():
    for number in (5, 250):
        counts = []
        for lib in LIBS:
            counter = Counter()
            m = lib.Timer("count()", globals={"count": counter}).timeit(number)
            counts.append(counter.calls)
            assert m.number_per_run == number and len(m.raw_times) == 1 and m.raw_times[0] > 0
        assert counts[1] == counts[0] == max(number // 100, 2) + number


def test_blocked_autorange_runs_estimate_then_blocks():
    counter, blocks = Counter(), []
    timer = benchmark.Timer("count()", globals={"count": counter})
    m = timer.blocked_autorange(callback=lambda number, t: blocks.append((number, t)), min_run_time=0.01)
    n = m.number_per_run
    assert n >= 1 and str(n).rstrip("0") == "1"  # a power of ten
    # The block-size search ran 1 + 10 + ... + n statements; then every measured block ran n.
    assert counter.calls == (10 * n - 1) // 9 + len(m.raw_times) * n
    assert blocks == [(n, t) for t in m.raw_times]
    assert sum(m.raw_times) >= 0.01


def test_adaptive_autorange_stops_when_precise_or_out_of_time():
    timer = benchmark.Timer("sum(range(50))")
    precise = timer.adaptive_autorange(threshold=1e9, min_run_time=0.001)
    # It stops at the first block where more than three blocks are in and min_run_time is spent.
    times = precise.raw_times
    first_past_min = next(k for k in range(1, len(times) + 1) if sum(times[:k]) >= 0.001)
    assert len(times) == max(4, first_past_min)
    capped = timer.adaptive_autorange(threshold=0.0, min_run_time=0.001, max_run_time=0.02)
    assert 0.02 < sum(capped.raw_times) < 0.2


def test_setup_and_globals_define_the_namespace():
    seen = []
    timer = benchmark.Timer("""
        seen.append(x + offset)
        """, setup="""
        x = 40
        """, globals={"seen": seen, "offset": 2})
    timer.timeit(3)
    assert seen == [42] * 5
    assert timer._task_spec.stmt == "seen.append(x + offset)" and timer._task_spec.setup == "x = 40"


def test_torch_name_defaults_to_trainer_and_globals_are_copied():
    user_globals = {"x": trainer.ones(3)}
    seen = []
    user_globals["seen"] = seen
    benchmark.Timer("seen.append(torch.add(x, 1))", globals=user_globals).timeit(1)
    assert isinstance(seen[0], trainer.Tensor) and seen[0].tolist() == [2.0, 2.0, 2.0]
    assert set(user_globals) == {"x", "seen"}  # exec's __builtins__ went into the Timer's copy
    own = []
    benchmark.Timer("own.append(torch)", globals={"own": own, "torch": "mine"}).timeit(1)
    assert own[0] == "mine"


def test_num_threads_is_set_for_the_measurement_and_restored():
    prior = trainer.get_num_threads()
    trainer.set_num_threads(2)
    try:
        before = trainer.get_num_threads()
        seen = []
        m = benchmark.Timer("seen.append(torch.get_num_threads())", globals={"seen": seen}, num_threads=1).timeit(2)
        assert set(seen) == {1} and m.num_threads == 1
        assert trainer.get_num_threads() == before
    finally:
        trainer.set_num_threads(prior)


def test_timer_synchronizes_the_gpu_when_cupy_is_in_use(monkeypatch):
    syncs = Counter()
    monkeypatch.setitem(sys.modules, "cupy", sys.modules.get("cupy", object()))
    monkeypatch.setattr(timer_module, "_cuda_device_present", lambda: True)
    monkeypatch.setattr(trainer.cuda, "synchronize", syncs)
    benchmark.Timer("pass").timeit(3)
    assert syncs.calls == 4  # before and after the warm-up block and the measured block


@pytest.mark.cuda
def test_timer_waits_for_queued_gpu_work():
    import cupy

    x = trainer.randn(4096, 4096, device="cuda")
    benchmark.timer()
    for _ in range(20):
        x = x @ x / 64
    benchmark.timer()
    assert cupy.cuda.get_current_stream().done


BAD_CALLS = [
    (lambda bm: bm.Timer(stmt=lambda: None), ValueError, "only a `str` stmt"),
    (lambda bm: bm.Timer("pass", global_setup="#include <x>"), ValueError, "global_setup is C\\+\\+ only"),
    (lambda bm: bm.Timer("pass", language="rust"), ValueError, "Invalid language `rust`"),
    (lambda bm: bm.Timer("x +"), SyntaxError, "invalid syntax"),
    (lambda bm: bm.Timer("pass").repeat(), NotImplementedError, "blocked_autorange"),
    (lambda bm: bm.Timer("pass").autorange(), NotImplementedError, "blocked_autorange"),
    (lambda bm: bm.Compare([1.0]), ValueError, "Expected an instance of `Measurement`"),
    (lambda bm: bm.trim_sigfig(1.0, 1.5), AssertionError, "must be an integer"),
    (lambda bm: bm.Timer("undefined_name").timeit(1), NameError, "undefined_name"),
]


@pytest.mark.parametrize("call, error, message", BAD_CALLS)
def test_bad_arguments_raise_like_torch(call, error, message):
    assert_raises_like_torch(lambda lib: call(lib.utils.benchmark), error, message)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'bogus'"):
        _pair(1, [1.0], stmt="f()", setup="pass")[1].bogus  # noqa: B018 - the attribute read is the test


def test_cpp_statements_are_refused_clearly():
    with pytest.raises(NotImplementedError, match="Python statements only"):
        benchmark.Timer("x++;", language="cpp")
