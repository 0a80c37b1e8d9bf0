"""``deepperformer vocode AUDIO -o OUT.wav``: copy synthesis of a recording (audio -> mel -> vocoder)."""

from __future__ import annotations

from pathlib import Path

from deepperformer.cli.vocoder_options import add_refine_arguments, refine_from


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    vc = sub.add_parser("vocode", help="copy synthesis of a recording: audio -> log-mel -> vocoder -> WAV")
    vc.add_argument("audio", type=Path, help="a recording (wav, flac, mp3, opus, ogg, aiff; any sample rate)")
    vc.add_argument("-o", "--out", type=Path, required=True, help="output .wav or .flac")
    vc.add_argument("--vocoder", help="vocoder checkpoint, or griffin-lim (default: the shipped shared vocoder)")
    add_refine_arguments(vc)
    vc.add_argument("--png", action="store_true", help="also write the original and vocoded mels as OUT.png")
    vc.set_defaults(run=cmd_vocode)


def cmd_vocode(a) -> int:
    from deepperformer.pipeline.copy_synthesis import vocode_file

    vocode_file(a.audio, a.out, a.vocoder, png=a.png, refine=refine_from(a))
    return 0
