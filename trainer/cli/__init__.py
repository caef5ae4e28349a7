"""Command-line programs of the trainer: ``sardonyx-train`` (``trainer.cli.train``)."""
