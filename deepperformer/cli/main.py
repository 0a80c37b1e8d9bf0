"""The ``deepperformer`` command: one parser, one thin module per command (``deepperformer.cli.<command>``).

Commands never import each other, only the library below them. Bad input ends with one line
``deepperformer: error: <file>: <problem>`` and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from deepperformer import __version__
from deepperformer.cli import (
    check_scores,
    directions,
    evaluate,
    inspect,
    listening_test,
    parts,
    prepare,
    render,
    synthesize,
    train,
    vocode,
)
from deepperformer.core.errors import EXIT_BAD_INPUT, DeepPerformerError, DeepPerformerWarning

#: In the order ``deepperformer --help`` lists them.
COMMAND_MODULES = (synthesize, vocode, render, parts, inspect, train, directions, evaluate, listening_test, prepare, check_scores)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: one line, exit 2, like bad input
        self.print_usage(sys.stderr)
        raise SystemExit(_fail(message))


def _fail(message: str) -> int:
    print(f"deepperformer: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="deepperformer", description="Score-to-audio music performance synthesis (Deep Performer).")
    p.add_argument("--version", action="version", version=f"deepperformer {__version__}")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, DeepPerformerWarning):  # ours: one line, like the errors
        print(f"deepperformer: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except DeepPerformerError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        print("deepperformer: interrupted (prepare and train resume where they stopped)", file=sys.stderr)
        return 130
    except SystemExit as e:
        return int(e.code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
