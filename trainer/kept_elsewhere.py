"""What ``trainer`` answers when a program reaches for a part of ``torch`` that Sardonyx keeps elsewhere: ONNX
export is the ``exporter`` package's (trainer knows nothing of ONNX), and the ONNX file it writes plays
TorchScript's part, a model that runs without its Python code."""

_KEPT_ELSEWHERE = {
    "onnx": "ONNX export lives in the exporter package: `from exporter import export` and call "
            "`export(model, args, \"model.onnx\")` with torch.onnx.export's arguments",
    "jit": "Sardonyx has no TorchScript: to run a model without its Python code, export it with "
           "`exporter.export(model, args, \"model.onnx\")` and run the file with `serving.InferenceSession`",
}


def __getattr__(name: str):
    where = _KEPT_ELSEWHERE.get(name)
    raise AttributeError(f"module 'trainer' has no attribute {name!r}" + (f": {where}" if where else ""))
