"""``deepperformer listening-test build|serve|analyze``: a blinded listening test (MUSHRA or MOS) from
systems x excerpts (a self-contained page, a key file, a webMUSHRA configuration), a local server
that collects the answers, and the analysis of the answers."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    lt = sub.add_parser("listening-test", help="build a blinded listening test (MUSHRA or MOS) from systems x excerpts")
    verbs = lt.add_subparsers(dest="listening_verb", required=True, parser_class=sub._parser_class)
    b = verbs.add_parser("build", help="render every system x excerpt, blind and normalise them, write the page")
    b.add_argument("config", type=Path, help="the test's YAML (recipes/listening_test/*.yaml)")
    b.add_argument("-o", "--out", type=Path, required=True, help="output folder (page/, key.csv, webmushra/)")
    b.add_argument("--demo-page", action="store_true", help="also a demo page: excerpts x systems with players and mels")
    b.set_defaults(run=cmd_build)
    sv = verbs.add_parser("serve", help="serve the page locally and store each listener's answers in DIR/answers/")
    sv.add_argument("dir", type=Path, help="the folder `build` wrote")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: the whole lab network)")
    sv.set_defaults(run=cmd_serve)
    an = verbs.add_parser("analyze", help="MOS/MUSHRA scores with confidence intervals, post-screening and Wilcoxon tests")
    an.add_argument("dir", type=Path, help="the folder `build` wrote (its key.csv)")
    an.add_argument("answers", type=Path, nargs="+", help="answers files (.json/.csv) or folders of them (DIR/answers)")
    an.add_argument("-o", "--out", type=Path, required=True, help="report folder (report.md, CSVs, PNG plots)")
    an.set_defaults(run=cmd_analyze)


def cmd_build(a) -> int:
    from deepperformer.listening.build import build
    from deepperformer.listening.config import load_config

    build(load_config(a.config), a.out, demo_page=a.demo_page)
    print(f"open {a.out / 'page' / 'index.html'}; keep {a.out / 'key.csv'} away from listeners")
    return 0


def cmd_serve(a) -> int:
    from deepperformer.listening.serve import make_server

    server = make_server(a.dir, a.host, a.port)
    print(f"serving {a.dir / 'page'} at http://{a.host}:{server.server_port}/ ; answers go to {a.dir / 'answers'} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_analyze(a) -> int:
    from deepperformer.listening.analyze import analyze

    files = []
    for p in a.answers:
        files += sorted(q for q in p.iterdir() if q.suffix in (".json", ".csv")) if p.is_dir() else [p]
    print(analyze(a.dir, files, a.out))
    print(f"report: {a.out / 'report.md'} (+ systems.csv, pairs.csv, systems.png, excerpts.png)")
    return 0
