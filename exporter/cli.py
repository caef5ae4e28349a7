"""``sardonyx-export``: build a model from ``MODULE:CALLABLE``, load a checkpoint, export it to ONNX, and
optionally lay it out in a Triton model repository with its ``config.pbtxt``."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import trainer
from exporter.errors import ExportError
from exporter.export import export
from exporter.training_mode import TrainingMode
from exporter.triton_config import triton_config

_DTYPES = ("float32", "float64", "float16", "int64", "int32")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sardonyx-export", description=__doc__)
    parser.add_argument("factory", metavar="MODULE:CALLABLE",
                        help="what builds the model, e.g. trainer.zoo:MnistCNN (called with no arguments)")
    parser.add_argument("--checkpoint", help="a safetensors file from trainer.save or sardonyx-train: a state_dict, "
                                             "or a dict whose 'model' entry is one")
    parser.add_argument("--input-shape", action="append", required=True, metavar="D0,D1,...",
                        help="the example input's shape, e.g. 1,1,28,28 (repeat for several inputs)")
    parser.add_argument("--dtype", choices=_DTYPES, default="float32", help="the example inputs' dtype")
    parser.add_argument("--dynamic-batch", action="store_true", help="make dim 0 of every input and output dynamic")
    parser.add_argument("--opset", type=int, help="the ONNX opset (default: the newest supported)")
    parser.add_argument("--verify", action="store_true", help="check the outputs against the trainer's")
    parser.add_argument("--no-export-params", action="store_true",
                        help="make parameters and buffers graph inputs instead of writing their values")
    parser.add_argument("--keep-initializers-as-inputs", action="store_true",
                        help="also list the written parameters and buffers as graph inputs (overridable)")
    parser.add_argument("--no-constant-folding", action="store_true", help="keep computations on constants as nodes")
    parser.add_argument("--training", action="store_true",
                        help="export in training mode (Dropout active, BatchNorm on batch statistics)")
    parser.add_argument("--custom-opset", action="append", default=[], metavar="DOMAIN=VERSION",
                        help="the version of a custom domain that registered symbolics emit nodes in (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print the exported graph")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("-o", "--output", help="where to write the .onnx file")
    target.add_argument("--repository", metavar="DIR/NAME",
                        help="a model folder of a Triton repository: writes NAME/VERSION/model.onnx and config.pbtxt")
    parser.add_argument("--version", type=int, default=1, help="the model version in --repository (default 1)")
    parser.add_argument("--max-batch-size", type=int, default=8,
                        help="config.pbtxt's max_batch_size with --dynamic-batch (default 8)")
    return parser


def load_factory(spec: str):
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ExportError(f"expected MODULE:CALLABLE (e.g. trainer.zoo:MnistCNN), got {spec!r}")
    try:
        target = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExportError(f"cannot import module {module_name!r}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ExportError(f"{module_name} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ExportError(f"{spec} is not callable")
    return target


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise ExportError(f"--input-shape wants comma-separated ints such as 1,1,28,28, got {text!r}") from None
    if not shape or any(d <= 0 for d in shape):
        raise ExportError(f"--input-shape wants positive sizes, got {text!r}")
    return shape


def parse_custom_opsets(items) -> dict[str, int]:
    opsets = {}
    for item in items:
        domain, sep, version = item.partition("=")
        if not sep or not domain or not version.isdigit():
            raise ExportError(f"--custom-opset wants DOMAIN=VERSION such as com.example=1, got {item!r}")
        opsets[domain] = int(version)
    return opsets


def load_checkpoint(model, path: str) -> None:
    state = trainer.load(path)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    model.load_state_dict(state)


def example_inputs(shapes, dtype: str):
    dt = getattr(trainer, dtype)
    if dt.is_floating_point:
        return tuple(trainer.randn(*s, dtype=dt) for s in shapes)
    return tuple(trainer.zeros(*s, dtype=dt) for s in shapes)


def _names(count: int, stem: str) -> list[str]:
    """export()'s default names."""
    return [stem] if count == 1 else [f"{stem}_{i}" for i in range(count)]


def _count_outputs(model, inputs) -> int:
    from exporter.export import _flatten_outputs

    with trainer.no_grad():
        return len(_flatten_outputs(model(*inputs)))


def run(argv=None) -> Path:
    args = build_parser().parse_args(argv)
    model = load_factory(args.factory)()
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint)
    model.eval()
    inputs = example_inputs([parse_shape(s) for s in args.input_shape], args.dtype)
    if args.repository:
        folder = Path(args.repository)
        path = folder / str(args.version) / "model.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(args.output)
    dynamic_axes = None
    if args.dynamic_batch:
        names = (*_names(len(inputs), "input"), *_names(_count_outputs(model, inputs), "output"))
        dynamic_axes = {name: {0: "batch"} for name in names}
    onnx_model = export(model, inputs, path, dynamic_axes=dynamic_axes, opset_version=args.opset, verify=args.verify,
                        export_params=not args.no_export_params,
                        keep_initializers_as_inputs=args.keep_initializers_as_inputs,
                        do_constant_folding=not args.no_constant_folding,
                        training=TrainingMode.TRAINING if args.training else TrainingMode.EVAL,
                        custom_opsets=parse_custom_opsets(args.custom_opset), verbose=args.verbose)
    if args.repository:
        max_batch = args.max_batch_size if args.dynamic_batch else 0
        (folder / "config.pbtxt").write_text(triton_config(onnx_model, folder.name, max_batch))
    return path


def main(argv=None) -> int:
    try:
        path = run(argv)
    except ExportError as exc:
        print(f"sardonyx-export: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
