"""``sardonyx-train RECIPE``: train a model of the zoo, with a progress bar, TensorBoard logs, curves, metrics
and a checkpoint after every epoch that ``--resume`` continues from, bit for bit on the CPU.

    sardonyx-train cnn-digits --epochs 4 --out runs/cnn
    sardonyx-train cnn-digits --out runs/cnn --resume     # after Ctrl-C: carries on where the checkpoint left off
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import trainer
from trainer.cli import checkpoint, loops
from trainer.cli.errors import RunError
from trainer.cli.run_logging import ProgressBar, RunLog
from trainer.utils.data import DataLoader
from trainer.zoo import RECIPES, Recipe

INTERRUPTED = 130  # the shell's code for a program ended by SIGINT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sardonyx-train", description="Train a model of the trainer zoo.",
        epilog="recipes: " + "; ".join(f"{name} ({r.description})" for name, r in RECIPES.items()))
    parser.add_argument("recipe", choices=sorted(RECIPES), metavar="RECIPE", help="one of: " + ", ".join(RECIPES))
    parser.add_argument("--epochs", type=int, help="epochs to train in all (default: the recipe's)")
    parser.add_argument("--batch-size", type=int, help="samples per batch (default: the recipe's)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the recipe's)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")
    parser.add_argument("--out", help="run folder for the checkpoint, logs and metrics (default: runs/RECIPE)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/checkpoint.safetensors with the settings saved there")
    parser.add_argument("--seed", type=int, help="seed of every random stream (default: 0)")
    parser.add_argument("--data-root", help="folder with the dataset's files (MNIST's IDX files for cnn-mnist)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    recipe = RECIPES[args.recipe]
    if recipe.needs_data_root and args.data_root is None:
        parser.error(f"{recipe.name} needs --data-root DIR, a folder holding the dataset's files")
    for name in ("epochs", "batch_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        device = trainer.device(args.device)
        trainer.zeros(1, device=device)  # fails here, with the install hint, where CuPy or the GPU is missing
    except (RuntimeError, ValueError) as exc:
        parser.error(f"--device {args.device}: {exc}")
    out = args.out or os.path.join("runs", recipe.name)
    try:
        return _run(recipe, args, device, out)
    except (RunError, FileNotFoundError, ImportError) as exc:
        print(f"sardonyx-train: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # while setting up or writing the final logs; epochs handle their own
        print("\ninterrupted outside an epoch; any checkpoint already written is intact", file=sys.stderr)
        return INTERRUPTED


def _run(recipe: Recipe, args, device: trainer.device, out: str) -> int:
    saved = checkpoint.load_checkpoint(out, recipe.name, device) if args.resume else None
    # Settings: the command line's, else those the resumed run was started with, else the recipe's.
    previous = saved["config"] if saved else {}
    config = {
        "epochs": _pick(args.epochs, previous.get("epochs"), recipe.epochs),
        "batch_size": _pick(args.batch_size, previous.get("batch_size"), recipe.batch_size),
        "lr": _pick(args.lr, previous.get("lr"), recipe.lr),
        "seed": _pick(args.seed, previous.get("seed"), 0),
    }

    trainer.manual_seed(config["seed"])
    train_set, test_set = recipe.dataset(args.data_root)
    loader_generator = trainer.Generator().manual_seed(config["seed"])
    train_loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True, generator=loader_generator)
    test_loader = DataLoader(test_set, batch_size=256) if test_set is not None else None
    config["total_steps"] = config["epochs"] * len(train_loader)

    model = recipe.model().to(device)
    loss_fn = recipe.loss()
    optimizer = recipe.optimizer(model, config["lr"])
    scheduler = recipe.scheduler(optimizer, config["total_steps"]) if recipe.scheduler is not None else None

    start_epoch, step, history = 0, 0, []
    if saved:
        if scheduler is not None and config["total_steps"] != previous["total_steps"]:
            raise RunError(f"--resume: the checkpoint's learning-rate schedule spans {previous['epochs']} epochs "
                           f"of batch size {previous['batch_size']}; resume with those --epochs and --batch-size "
                           f"(or leave them out)")
        checkpoint.restore(saved, model=model, optimizer=optimizer, scheduler=scheduler,
                           loader_generator=loader_generator, device=device)
        start_epoch, step, history = saved["epoch"], saved["step"], saved["history"]
        print(f"resuming {recipe.name} from {checkpoint.checkpoint_path(out)} after epoch {start_epoch}",
              file=sys.stderr)
    elif os.path.exists(checkpoint.checkpoint_path(out)):
        print(f"starting afresh in {out}; its checkpoint will be overwritten (pass --resume to continue it)",
              file=sys.stderr)

    os.makedirs(out, exist_ok=True)
    log = RunLog(out, history, purge_step=step + 1 if saved else None)
    started, epoch = time.perf_counter(), start_epoch
    try:
        for epoch in range(start_epoch + 1, config["epochs"] + 1):
            bar = ProgressBar(train_loader, epoch, config["epochs"], disable=args.quiet)
            try:
                if recipe.metric == "gan_losses":
                    record, step = loops.train_gan_epoch(model, bar, loss_fn, optimizer, device, log, step)
                else:
                    record, step = loops.train_classifier_epoch(model, bar, loss_fn, optimizer, scheduler, device,
                                                                log, step)
            finally:
                bar.close()
            if test_loader is not None:
                record.update(loops.evaluate_classifier(model, test_loader, loss_fn, device))
            _check_finite(record, epoch)
            log.epoch({"epoch": epoch, **record})
            checkpoint.save_checkpoint(out, recipe=recipe.name, epoch=epoch, config=config, model=model,
                                       optimizer=optimizer, scheduler=scheduler, loader_generator=loader_generator,
                                       device=device, history=log.history, step=step)
            print(_describe(record, epoch, config["epochs"]), file=sys.stderr)
    except KeyboardInterrupt:
        if log.history:
            log.plot()
        log.close()
        done = epoch - 1
        kept = (f"the checkpoint after epoch {done} is intact in {checkpoint.checkpoint_path(out)}" if done
                else "no epoch had finished, so there is no checkpoint")
        print(f"\ninterrupted during epoch {epoch}: {kept}; rerun with --resume to continue", file=sys.stderr)
        return INTERRUPTED

    log.plot()
    summary = {"recipe": recipe.name, "metric": recipe.metric, "device": str(device), **config,
               "epochs_completed": epoch, "seconds_this_session": time.perf_counter() - started,
               "final": log.history[-1] if log.history else {}}
    metrics_path = log.write_metrics(summary)
    log.close()
    print(f"wrote {checkpoint.checkpoint_path(out)}, {metrics_path}, {os.path.join(out, 'curves.png')} and "
          f"TensorBoard events in {out}", file=sys.stderr)
    return 0


def _pick(*values):
    return next(v for v in values if v is not None)


def _check_finite(record: dict, epoch: int) -> None:
    bad = [name for name, value in record.items() if isinstance(value, float) and not math.isfinite(value)]
    if bad:
        raise RunError(f"epoch {epoch}: {', '.join(bad)} became {record[bad[0]]}; the run diverged, try a "
                         f"lower --lr")


def _describe(record: dict, epoch: int, epochs: int) -> str:
    shown = {k: v for k, v in record.items() if k != "seconds"}
    parts = [f"{k}={v:.4f}" if k != "samples_per_s" else f"{k}={v:.0f}" for k, v in shown.items()]
    return f"epoch {epoch}/{epochs}: " + " ".join(parts) + f" ({record['seconds']:.1f} s)"


if __name__ == "__main__":
    sys.exit(main())
