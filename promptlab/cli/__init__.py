"""The ``promptlab`` command: run experiment files, browse the history, gate
prompts in CI, export, look after the history file (``commands.py``), and
the experiment file format (``experiment_file.py``)."""

from promptlab.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
