"""The command line: ``deepperformer COMMAND``, one thin module per command over the library."""

from deepperformer.cli.main import main

__all__ = ["main"]
