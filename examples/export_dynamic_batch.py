"""Export a trainer model with a dynamic batch axis and run the one file at several batch sizes.

    python examples/export_dynamic_batch.py [--out lenet.onnx]

Without ``dynamic_axes`` the exported graph fixes the example's batch size; with it, the batch dimension is named
(``"batch"``) and any batch runs. Load a trained checkpoint first with ``model.load_state_dict(trainer.load(...))``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import trainer
from exporter import export
from serving import InferenceSession
from trainer.zoo import LeNet5


def main(argv: list[str] | None = None) -> dict[int, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("lenet.onnx"))
    args = parser.parse_args(argv)

    trainer.manual_seed(0)
    model = LeNet5().eval()
    export(model, trainer.randn(1, 1, 28, 28), args.out, input_names=["image"], output_names=["logits"],
           dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})

    session = InferenceSession(str(args.out))
    print("inputs:", [(i.name, i.shape) for i in session.get_inputs()])  # [('image', ['batch', 1, 28, 28])]
    differences = {}
    for batch in (1, 7, 32):
        images = np.random.default_rng(batch).standard_normal((batch, 1, 28, 28), dtype=np.float32)
        logits, = session.run(None, {"image": images})
        with trainer.no_grad():
            expected = model(trainer.from_numpy(images)).numpy()
        differences[batch] = float(np.abs(logits - expected).max())
        print(f"batch {batch:2d}: logits {logits.shape}, max |difference| from the trainer {differences[batch]:.1e}")
    return differences


if __name__ == "__main__":
    main()
