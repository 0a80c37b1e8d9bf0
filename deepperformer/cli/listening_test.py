"""``deepperformer listening-test build CONFIG.yaml -o DIR [--demo-page]``: a blinded listening test
(MUSHRA or MOS) from systems x excerpts, as a self-contained page, a key file and a webMUSHRA
configuration."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    lt = sub.add_parser("listening-test", help="build a blinded listening test (MUSHRA or MOS) from systems x excerpts")
    verbs = lt.add_subparsers(dest="listening_verb", required=True, parser_class=type(sub._parser_class()))
    b = verbs.add_parser("build", help="render every system x excerpt, blind and normalise them, write the page")
    b.add_argument("config", type=Path, help="the test's YAML (recipes/listening_test/*.yaml)")
    b.add_argument("-o", "--out", type=Path, required=True, help="output folder (page/, key.csv, webmushra/)")
    b.add_argument("--demo-page", action="store_true", help="also a demo page: excerpts x systems with players and mels")
    b.set_defaults(run=cmd_build)


def cmd_build(a) -> int:
    from deepperformer.listening.build import build
    from deepperformer.listening.config import load_config

    build(load_config(a.config), a.out, demo_page=a.demo_page)
    print(f"open {a.out / 'page' / 'index.html'}; keep {a.out / 'key.csv'} away from listeners")
    return 0
