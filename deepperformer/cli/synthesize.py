"""``deepperformer synthesize INPUT -o OUT.wav``: the whole pipeline, score or performance -> audio."""

from __future__ import annotations

from pathlib import Path

from deepperformer.cli.stage_one import add_arguments, renderer_from
from deepperformer.cli.vocoder_options import add_refine_arguments, refine_from


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    sy = sub.add_parser("synthesize", help="score or performance -> WAV with the shipped (or given) acoustic model and vocoder")
    sy.add_argument(
        "input", type=Path, help="a score (MusicXML, MXL, MEI, kern; MIDI with --tempo) or a performance (MIDI, match, note CSV)"
    )
    sy.add_argument("-o", "--out", type=Path, required=True, help="output .wav or .flac")
    sy.add_argument("--instrument", choices=("piano", "violin"), default="piano")
    sy.add_argument(
        "--tempo", type=float, help="scores: constant tempo in quarter notes per minute (default: the markings, else 120)"
    )
    sy.add_argument(
        "--unfold", choices=("maximal", "minimal", "none"), default="maximal", help="score repeats (default: all taken)"
    )
    sy.add_argument(
        "--acoustic",
        type=Path,
        help="acoustic-model checkpoint, or the paper's baseline (notes -> audio, no vocoder); default: the shipped one",
    )
    sy.add_argument("--vocoder", type=Path, help="vocoder checkpoint, or griffin-lim (default: the shipped one)")
    add_refine_arguments(sy)
    sy.add_argument("--png", action="store_true", help="also write the predicted mel above the notes as OUT.png")
    sy.add_argument("--part", action="append", help="scores: play only this part (index, id or name; repeatable; see `parts`)")
    add_arguments(
        sy,
        "a pianist the renderer knows (`performers --stage renderer`) and/or a voice the acoustic model knows "
        "(`performers`); repeat to give both",
    )
    sy.set_defaults(run=cmd_synthesize)


def cmd_synthesize(a) -> int:
    from deepperformer.pipeline.synthesis import synthesize

    renderer, directions = renderer_from(a, a.instrument)
    synthesize(
        a.input,
        a.out,
        a.instrument,
        performers=a.performer or (),
        tempo=a.tempo,
        acoustic=a.acoustic,
        vocoder=a.vocoder,
        refine=refine_from(a),
        renderer=renderer,
        directions=directions,
        mel_png=a.png,
        unfold=a.unfold,
        parts=a.part,
    )
    return 0
