"""``deepperformer parts SCORE``: the parts of a score, to choose from with ``--part``."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    pa = sub.add_parser("parts", help="list a score's parts (index, id, name, notes, range) for --part")
    pa.add_argument("score", type=Path, help="MusicXML, MXL, MEI, Humdrum kern or MIDI score")
    pa.set_defaults(run=cmd_parts)


def cmd_parts(a) -> int:
    from deepperformer.core.instruments import pitch_name
    from deepperformer.core.score import list_parts

    print(f"{'part':>4}  {'id':<10} {'name':<24} {'notes':>6}  range")
    for p in list_parts(a.score):
        span = f"{pitch_name(p.lowest)}-{pitch_name(p.highest)}" if p.notes else "-"
        print(f"{p.index:>4}  {p.id[:10]:<10} {p.name[:24]:<24} {p.notes:>6}  {span}")
    return 0
