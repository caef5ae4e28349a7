"""What ``trainer`` answers when a program reaches for a part of ``torch`` that Sardonyx keeps elsewhere: ONNX
export is the ``exporter`` package's (trainer knows nothing of ONNX)."""

_KEPT_ELSEWHERE = {
    "onnx": "ONNX export lives in the exporter package: `from exporter import export` and call "
            "`export(model, args, \"model.onnx\")` with torch.onnx.export's arguments",
}


def __getattr__(name: str):
    where = _KEPT_ELSEWHERE.get(name)
    raise AttributeError(f"module 'trainer' has no attribute {name!r}" + (f": {where}" if where else ""))
