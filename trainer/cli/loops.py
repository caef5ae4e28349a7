"""One epoch of training, and evaluation, for the two kinds of recipe: classifiers and GANs."""

from __future__ import annotations

import time

import trainer
from trainer.cli.run_logging import ProgressBar, RunLog


def train_classifier_epoch(model, bar: ProgressBar, loss_fn, optimizer, scheduler, device, log: RunLog,
                           step: int) -> tuple[dict, int]:
    """Train on each batch of ``bar``; return the epoch's mean loss and throughput, and the new step count."""
    model.train()
    total_loss, samples, start = 0.0, 0, time.perf_counter()
    for inputs, targets in bar:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        value, n = loss.item(), len(targets)
        total_loss += value * n
        samples += n
        step += 1
        bar.update(n, loss=value)
        log.batch(step, {"loss": value, "lr": optimizer.param_groups[0]["lr"]})
    seconds = time.perf_counter() - start
    return {"train_loss": total_loss / samples, "samples_per_s": samples / seconds, "seconds": seconds}, step


def evaluate_classifier(model, loader, loss_fn, device) -> dict:
    """Mean loss and accuracy over ``loader`` in eval mode (dropout off, batch norm on running statistics)."""
    model.eval()
    total_loss, correct, samples = 0.0, 0, 0
    with trainer.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            total_loss += loss_fn(outputs, targets).item() * len(targets)
            correct += int((outputs.argmax(dim=1) == targets).sum().item())
            samples += len(targets)
    return {"test_loss": total_loss / samples, "test_accuracy": correct / samples}


def train_gan_epoch(model, bar: ProgressBar, loss_fn, optimizers, device, log: RunLog, step: int) -> tuple[dict, int]:
    """One DCGAN epoch: per batch, a discriminator step on real and (detached) generated images, then a
    generator step that asks the discriminator to call its images real."""
    generator, discriminator = model["generator"], model["discriminator"]
    opt_g, opt_d = optimizers["generator"], optimizers["discriminator"]
    model.train()
    sums = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0}
    samples, start = 0, time.perf_counter()
    for real, _ in bar:
        real = real.to(device)
        n = real.size(0)
        ones, zeros = trainer.ones(n, device=device), trainer.zeros(n, device=device)

        opt_d.zero_grad()
        out_real = discriminator(real)
        fake = generator(trainer.randn(n, generator.nz, 1, 1, device=device))
        out_fake = discriminator(fake.detach())  # the generator gets no gradient from the discriminator's step
        d_loss = loss_fn(out_real, ones) + loss_fn(out_fake, zeros)
        d_loss.backward()
        opt_d.step()

        opt_g.zero_grad()
        g_loss = loss_fn(discriminator(fake), ones)
        g_loss.backward()
        opt_g.step()

        values = {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "d_real": out_real.mean().item(),
                  "d_fake": out_fake.mean().item()}
        for name, value in values.items():
            sums[name] += value * n
        samples += n
        step += 1
        bar.update(n, d_loss=values["d_loss"], g_loss=values["g_loss"])
        log.batch(step, values)
    seconds = time.perf_counter() - start
    record = {name: total / samples for name, total in sums.items()}
    return {**record, "samples_per_s": samples / seconds, "seconds": seconds}, step
