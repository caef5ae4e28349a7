# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/examples distributed/ddp-tutorial-series (datautils.py, multigpu.py, multinode.py), shortened to run on
CPUs with the gloo backend: multinode.py's Trainer (snapshots saved by rank 0 and resumed from) and its env://
rendezvous as torchrun sets it up, started the way multigpu.py starts its ranks (``mp.spawn(main, ...)``, here
forked: an exec'd program cannot be re-imported by a spawned child). On CPUs the model stays on the CPU and DDP
gets no device_ids (``model.to(local_rank)`` and ``device_ids=[local_rank]`` name GPUs). A smaller dataset and
batch; each Trainer keeps its losses."""

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

import torch.multiprocessing as mp
from torch.utils.data.distributed import DistributedSampler
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.distributed import init_process_group, destroy_process_group
import os


# datautils.py
class MyTrainDataset(Dataset):
    def __init__(self, size):
        self.size = size
        self.data = [(torch.rand(20), torch.rand(1)) for _ in range(size)]

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        return self.data[index]


# multinode.py
def ddp_setup():
    rank = int(os.environ["LOCAL_RANK"])
    device = torch.device("cpu")
    print(f"Running on device {device}")
    torch.distributed.init_process_group(backend="gloo")
    return device

class Trainer:
    def __init__(
        self,
        model: torch.nn.Module,
        train_data: DataLoader,
        optimizer: torch.optim.Optimizer,
        save_every: int,
        snapshot_path: str,
        device
    ) -> None:
        self.local_rank = int(os.environ["LOCAL_RANK"])
        self.global_rank = int(os.environ["RANK"])
        self.model = model.to(device)
        self.train_data = train_data
        self.optimizer = optimizer
        self.save_every = save_every
        self.epochs_run = 0
        self.snapshot_path = snapshot_path
        self.device = device
        self.losses = []
        if os.path.exists(snapshot_path):
            print("Loading snapshot")
            self._load_snapshot(snapshot_path)

        self.model = DDP(self.model)

    def _load_snapshot(self, snapshot_path):
        loc = str(self.device)
        snapshot = torch.load(snapshot_path, map_location=loc)
        self.model.load_state_dict(snapshot["MODEL_STATE"])
        self.epochs_run = snapshot["EPOCHS_RUN"]
        print(f"Resuming training from snapshot at Epoch {self.epochs_run}")

    def _run_batch(self, source, targets):
        self.optimizer.zero_grad()
        output = self.model(source)
        loss = F.cross_entropy(output, targets)
        loss.backward()
        self.optimizer.step()
        self.losses.append(loss.item())

    def _run_epoch(self, epoch):
        b_sz = len(next(iter(self.train_data))[0])
        print(f"[GPU{self.global_rank}] Epoch {epoch} | Batchsize: {b_sz} | Steps: {len(self.train_data)}")
        self.train_data.sampler.set_epoch(epoch)
        for source, targets in self.train_data:
            source = source.to(self.local_rank if self.device.type != "cpu" else self.device)
            targets = targets.to(self.local_rank if self.device.type != "cpu" else self.device)
            self._run_batch(source, targets)

    def _save_snapshot(self, epoch):
        snapshot = {
            "MODEL_STATE": self.model.module.state_dict(),
            "EPOCHS_RUN": epoch,
        }
        torch.save(snapshot, self.snapshot_path)
        print(f"Epoch {epoch} | Training snapshot saved at {self.snapshot_path}")

    def train(self, max_epochs: int):
        for epoch in range(self.epochs_run, max_epochs):
            self._run_epoch(epoch)
            if self.global_rank == 0 and epoch % self.save_every == 0:
                self._save_snapshot(epoch)


def load_train_objs():
    train_set = MyTrainDataset(64)  # load your dataset
    model = torch.nn.Linear(20, 1)  # load your model
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    return train_set, model, optimizer


def prepare_dataloader(dataset: Dataset, batch_size: int):
    return DataLoader(
        dataset,
        batch_size=batch_size,
        pin_memory=True,
        shuffle=False,
        sampler=DistributedSampler(dataset)
    )


def main(save_every: int, total_epochs: int, batch_size: int, snapshot_path: str = "snapshot.pt"):
    device = ddp_setup()
    dataset, model, optimizer = load_train_objs()
    train_data = prepare_dataloader(dataset, batch_size)
    trainer = Trainer(model, train_data, optimizer, save_every, snapshot_path, device)
    trainer.train(total_epochs)
    destroy_process_group()
    return trainer


def torchrun_worker(rank, world_size, master_port, save_every, total_epochs, batch_size, snapshot_path, results_dir):
    """What torchrun does for each process: the rendezvous environment, then the script's main; the rank's
    results are saved for the launching process."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(master_port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    trainer = main(save_every, total_epochs, batch_size, snapshot_path)
    seen = torch.cat([source for source, _ in trainer.train_data])
    torch.save({"losses": torch.tensor(trainer.losses), "epochs_run": trainer.epochs_run, "seen": seen,
                "weight": trainer.model.module.weight.detach(), "data": torch.stack([x for x, _ in
                                                                                     trainer.train_data.dataset.data])},
               os.path.join(results_dir, f"rank{rank}.pt"))


def launch(world_size, master_port, save_every, total_epochs, batch_size, snapshot_path, results_dir):
    mp.start_processes(torchrun_worker, args=(world_size, master_port, save_every, total_epochs, batch_size,
                                              snapshot_path, results_dir), nprocs=world_size, start_method="fork")
