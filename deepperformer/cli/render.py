"""``deepperformer render SCORE -o OUT.mid``: stage 1 alone, a score -> a performance (MIDI or note CSV)."""

from __future__ import annotations

from pathlib import Path

from deepperformer.core.errors import DeepPerformerError


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    rd = sub.add_parser("render", help="render a score to a performance (MIDI or note CSV, plus a piano-roll PNG)")
    rd.add_argument("score", type=Path, help="MusicXML, MXL, MEI, Humdrum kern or MIDI score")
    rd.add_argument("-o", "--out", type=Path, required=True, help="output .mid or .csv")
    rd.add_argument(
        "--tempo", type=float, help="constant tempo in quarter notes per minute (default: the score's markings, else 120)"
    )
    rd.add_argument(
        "--unfold", choices=("maximal", "minimal", "none"), default="maximal", help="repeats: all (default), none, as written"
    )
    rd.add_argument("--program", type=int, default=0, help="General MIDI program of the MIDI output (0 piano, 40 violin)")
    rd.add_argument("--no-png", action="store_true", help="do not write the piano-roll PNG beside the output")
    rd.add_argument("--part", action="append", help="play only this part (index, id or name; repeatable; see `parts`)")
    rd.add_argument("--renderer", type=Path, help="a trained renderer checkpoint (without it: deadpan)")
    rd.add_argument("--deadpan", action="store_true", help="play the score as marked, even with --renderer")
    rd.add_argument("--performer", help="--renderer: play as this performer (`deepperformer performers --stage renderer`)")
    rd.add_argument(
        "--expressiveness", type=float, default=1.0, help="--renderer: 0 = deadpan, 1 = as learnt (default), >1 exaggerated"
    )
    rd.add_argument("--seed", type=int, help="--renderer: draw a style with this seed (default: the most typical one)")
    rd.set_defaults(run=cmd_render)


def cmd_render(a) -> int:
    from deepperformer.core.plots import save_piano_roll
    from deepperformer.core.score import load_score
    from deepperformer.core.tempo import check_qpm
    from deepperformer.pipeline.loading import load_renderer
    from deepperformer.render.codec import tempo_curve
    from deepperformer.render.inputs import render_score

    suffix = a.out.suffix.lower()
    if suffix not in (".mid", ".midi", ".csv"):
        raise DeepPerformerError(a.out, "output must end in .mid, .midi or .csv")
    check_qpm(a.tempo)
    if not 0.0 <= a.expressiveness <= 4.0:
        raise DeepPerformerError(None, f"--expressiveness {a.expressiveness}: expected 0..4")
    renderer = None if a.deadpan or a.renderer is None else load_renderer(a.renderer)
    if renderer is not None:
        renderer.expressiveness = a.expressiveness
        if a.seed is not None:
            renderer.sample_style(a.seed)
    score = load_score(a.score, unfold=a.unfold, features=renderer is not None, parts=a.part)
    perf, enc = render_score(score, renderer, a.performer, a.tempo)
    if suffix == ".csv":
        perf.write_csv(a.out)
    else:
        perf.write_midi(a.out, program=a.program)
    print(f"{a.score}: {len(score)} notes, {perf.duration:.1f} s -> {a.out}")
    if not a.no_png:
        png = a.out.with_suffix(".png")
        label = "deadpan" if renderer is None else a.renderer.name
        try:
            tempo = {label: tempo_curve(score, perf, enc)}
        except DeepPerformerError:  # a single chord has no tempo to draw
            tempo = None
        save_piano_roll(perf, png, title=f"{a.score.name} ({label})", tempo=tempo)
        print(f"piano roll: {png}")
    return 0
