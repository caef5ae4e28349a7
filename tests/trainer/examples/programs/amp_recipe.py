# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials recipes_source/recipes/amp_recipe.py, the part that runs on a CPU: default precision, then
torch.autocast with GradScaler (which disables itself without CUDA, with a warning), gradient clipping after
unscale_, and the checkpoint holding the scaler's state; bfloat16 is the CPU's autocast type, sizes are small."""

import torch


def make_model(in_size, out_size, num_layers):
    layers = []
    for _ in range(num_layers - 1):
        layers.append(torch.nn.Linear(in_size, in_size))
        layers.append(torch.nn.ReLU())
    layers.append(torch.nn.Linear(in_size, out_size))
    return torch.nn.Sequential(*tuple(layers))


batch_size = 16 # Try, for example, 128, 256, 513.
in_size = 32
out_size = 32
num_layers = 3
num_batches = 4
epochs = 2

device = 'cuda' if torch.cuda.is_available() else 'cpu'
dtype = torch.float16 if device == 'cuda' else torch.bfloat16

loss_fn = torch.nn.MSELoss()


def default_precision(net, data, targets):
    opt = torch.optim.SGD(net.parameters(), lr=0.001)
    losses = []
    for epoch in range(epochs):
        for input, target in zip(data, targets):
            output = net(input)
            loss = loss_fn(output, target)
            loss.backward()
            opt.step()
            opt.zero_grad() # set_to_none=True here can modestly improve performance
            losses.append(loss.item())
    return losses


def all_together(net, data, targets, use_amp=True):
    opt = torch.optim.SGD(net.parameters(), lr=0.001)
    scaler = torch.amp.GradScaler("cuda" ,enabled=use_amp)
    losses, dtypes = [], set()

    for epoch in range(epochs):
        for input, target in zip(data, targets):
            with torch.autocast(device_type=device, dtype=dtype, enabled=use_amp):
                output = net(input)
                loss = loss_fn(output, target)
                dtypes.add((str(output.dtype), str(loss.dtype)))
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            # Since the gradients of optimizer's assigned params are now unscaled, clips as usual.
            # You may use the same value for max_norm here as you would without gradient scaling.
            torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=0.1)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad() # set_to_none=True here can modestly improve performance
            losses.append(loss.item())

    checkpoint = {"model": net.state_dict(),
                  "optimizer": opt.state_dict(),
                  "scaler": scaler.state_dict()}
    # Write checkpoint as desired, e.g.,
    # torch.save(checkpoint, "filename")

    net.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["optimizer"])
    scaler.load_state_dict(checkpoint["scaler"])
    return losses, sorted(dtypes), scaler.is_enabled(), checkpoint["scaler"]
