"""``deepperformer render SCORE -o OUT.mid``: stage 1 alone, a score -> a performance (MIDI or note CSV)."""

from __future__ import annotations

from pathlib import Path

from deepperformer.cli.stage_one import add_arguments, renderer_from
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
    rd.add_argument(
        "--instrument", choices=("piano", "violin"), default="piano", help="whose shipped renderer plays it (default piano)"
    )
    rd.add_argument(
        "--compare", type=Path, help="a human performance of the score (match file) to draw beside the rendering in the PNG"
    )
    add_arguments(rd, "play as this performer (`deepperformer performers --stage renderer`)")
    rd.set_defaults(run=cmd_render)


def aligned_performance(path: Path, score):
    """A human performance of ``score`` whose notes carry its score ids (a match file)."""
    import numpy as np

    from deepperformer.core.performance import load_performance

    human = load_performance(path)
    shared = np.isin(human.notes["score_id"], score.notes["id"]).sum()
    if shared < 2:
        raise DeepPerformerError(
            path,
            "has no notes aligned to this score's (give a match file of this score; --unfold none if it names written notes)",
        )
    # the performance's own start is its time 0, like the rendering's
    human.notes["onset_sec"] -= human.notes["onset_sec"].min()
    return human


def cmd_render(a) -> int:
    from deepperformer.core.plots import save_piano_roll
    from deepperformer.core.score import load_score
    from deepperformer.core.tempo import check_qpm
    from deepperformer.render.codec import tempo_curve
    from deepperformer.render.inputs import render_score

    suffix = a.out.suffix.lower()
    if suffix not in (".mid", ".midi", ".csv"):
        raise DeepPerformerError(a.out, "output must end in .mid, .midi or .csv")
    check_qpm(a.tempo)
    renderer, directions = renderer_from(a, a.instrument)
    if a.performer and len(a.performer) > 1:
        raise DeepPerformerError(None, "render takes one --performer")
    performer = a.performer[0] if a.performer else None
    if renderer is not None and performer is not None:
        renderer.performers.index(performer, renderer.source)
    score = load_score(a.score, unfold=a.unfold, features=renderer is not None, parts=a.part)
    perf, enc = render_score(score, renderer, performer, a.tempo, directions)
    if suffix == ".csv":
        perf.write_csv(a.out)
    else:
        perf.write_midi(a.out, program=a.program)
    who = performer or (renderer.performers.default if renderer is not None else None)
    how = "deadpan" if renderer is None else f"renderer {Path(renderer.source).name}, performer {who}"
    print(f"{a.score}: {len(score)} notes, {perf.duration:.1f} s ({how}) -> {a.out}")
    if not a.no_png:
        png = a.out.with_suffix(".png")
        label = "deadpan" if renderer is None else Path(renderer.source).name
        try:
            tempo = {label: tempo_curve(score, perf, enc)}
        except DeepPerformerError:  # a single chord has no tempo to draw
            tempo = None
        velocity = {label: (perf.notes["onset_sec"], perf.notes["velocity"])}
        if a.compare is not None:
            human = aligned_performance(a.compare, score)
            tempo = (tempo or {}) | {a.compare.name: tempo_curve(score, human)}
            velocity[a.compare.name] = (human.notes["onset_sec"], human.notes["velocity"])
        save_piano_roll(perf, png, title=f"{a.score.name} ({label})", tempo=tempo, velocity=velocity)
        print(f"piano roll: {png}")
    return 0
