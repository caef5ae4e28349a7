"""Train the seed documents' model families with sardonyx-train's recipes: a CNN, an RNN, a Transformer and a GAN.

    python examples/train_recipes.py                          # each recipe with its own epochs
    python examples/train_recipes.py --epochs 1 --out /tmp/runs cnn-digits gan-digits

Each run writes a checkpoint, TensorBoard events, curves.png and metrics.json into OUT/RECIPE; the same as
``sardonyx-train RECIPE --out OUT/RECIPE`` on the command line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from trainer.cli import train

SEED_FAMILIES = ["cnn-digits", "rnn-digits", "transformer-digits", "gan-digits"]


def train_recipe(recipe: str, out: Path, epochs: int | None = None) -> dict:
    """Run one recipe and return the metrics of its last epoch."""
    argv = [recipe, "--out", str(out / recipe)] + (["--epochs", str(epochs)] if epochs else [])
    if train.main(argv) != 0:
        raise RuntimeError(f"sardonyx-train {' '.join(argv)} failed")
    return json.loads((out / recipe / "metrics.json").read_text())["final"]


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", default=SEED_FAMILIES, help=f"default: {' '.join(SEED_FAMILIES)}")
    parser.add_argument("--epochs", type=int, help="epochs per recipe (default: each recipe's own)")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="parent of the run folders (default runs/)")
    args = parser.parse_args(argv)
    finals = {recipe: train_recipe(recipe, args.out, args.epochs) for recipe in args.recipes}
    for recipe, final in finals.items():
        # Classifiers report test accuracy; the GAN its two losses.
        shown = (f"test accuracy {100 * final['test_accuracy']:.2f}%" if "test_accuracy" in final
                 else f"d_loss {final['d_loss']:.3f} g_loss {final['g_loss']:.3f}")
        print(f"{recipe:<20} {shown}   {args.out / recipe}")
    return finals


if __name__ == "__main__":
    main()
