"""``deepperformer evaluate CHECKPOINT...``: the error tables, note F1 and the quality table."""

from __future__ import annotations

from pathlib import Path

from deepperformer.cli.vocoder_options import check_iterations
from deepperformer.core.errors import DeepPerformerError
from deepperformer.vocoders import REFINE_ITERS

#: Names the renderer table with its baselines alone, where checkpoints are listed.
RENDERER_BASELINES = "renderer-baselines"


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    ev = sub.add_parser(
        "evaluate", help="log-mel MSE table of acoustic/baseline checkpoints; copy synthesis of vocoders; piano note F1"
    )
    ev.add_argument(
        "checkpoints",
        type=Path,
        nargs="+",
        help="exported checkpoints (renderer, acoustic, baseline, vocoder), griffin-lim, or "
        "renderer-baselines (the renderer table with its baselines and human ceiling only)",
    )
    ev.add_argument("--manifest", type=Path, action="append", required=True, help="prepared manifest.csv (repeatable)")
    ev.add_argument("--split", default="test", choices=("train", "validation", "test"))
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--max-clips", type=int, help="vocoders: at most this many clips per corpus and instrument (evenly spaced)")
    ev.add_argument(
        "--predicted-mels-from",
        type=Path,
        action="append",
        default=[],
        metavar="ACOUSTIC",
        help="vocoders: also vocode this acoustic model's teacher-forced mels of the split (repeatable)",
    )
    ev.add_argument(
        "--note-f1",
        action="store_true",
        help="also transcribe (Transkun) the synthesis of one piano acoustic model + one vocoder and the corpus audio",
    )
    ev.add_argument(
        "--quality",
        action="store_true",
        help="the quality table: original, FluidSynth, Griffin-Lim and each vocoder's copy synthesis, each acoustic "
        "model + vocoder chain; log-mel MSE, MR-STFT, piano note F1, violin pitch accuracy, frame-rate comb",
    )
    ev.add_argument("--excerpts", type=int, default=4, help="--quality: excerpts per corpus and instrument (default 4)")
    ev.add_argument(
        "--report", type=Path, help="--quality: also write the per-excerpt rows as CSV and the table as markdown (REPORT.md)"
    )
    g = ev.add_mutually_exclusive_group()
    g.add_argument(
        "--refine",
        type=int,
        action="append",
        metavar="N",
        help="vocoders: also measure each neural vocoder followed by N mel-consistency refinement iterations "
        f"(repeatable; default {REFINE_ITERS}, what synthesize and vocode use)",
    )
    g.add_argument("--no-refine", action="store_true", help="vocoders: the raw outputs only")
    ev.add_argument("--max-recordings", type=int, default=8, help="--note-f1: recordings (evenly spaced, default 8)")
    ev.add_argument("--seconds", type=float, default=20.0, help="--note-f1, --quality: seconds per excerpt (default 20)")
    ev.set_defaults(run=cmd_evaluate)


def cmd_evaluate(a) -> int:
    from deepperformer.core.checkpoint import load_checkpoint
    from deepperformer.evaluation.checkpoints import (
        evaluate_checkpoints,
        evaluate_vocoders,
        format_f1_table,
        format_table,
        format_vocoder_table,
        note_f1,
    )
    from deepperformer.vocoders.griffin_lim import NAME as GRIFFIN_LIM

    named = {GRIFFIN_LIM: "vocoder", RENDERER_BASELINES: "renderer"}
    stages = {
        p: named.get(str(p)) or load_checkpoint(p, ("renderer", "acoustic", "baseline", "vocoder"))["stage"]
        for p in a.checkpoints
    }
    renderers = [p for p in a.checkpoints if stages[p] == "renderer"]
    if renderers:
        from deepperformer.evaluation.renderers import renderer_report
        from deepperformer.pipeline.loading import load_renderer

        systems = []
        for p in renderers:
            if str(p) != RENDERER_BASELINES:
                r = load_renderer(p)
                r.name = Path(p).stem if Path(p).stem != "model" else Path(p).parent.name
                systems.append(r)
        print(renderer_report(systems, a.manifest, a.split)[0])
    stage_two = [p for p in a.checkpoints if stages[p] in ("acoustic", "baseline")]
    refine = () if a.no_refine else tuple(check_iterations(n) for n in a.refine or (REFINE_ITERS,))
    vocoders = [p for p in a.checkpoints if stages[p] == "vocoder"]
    if a.quality:
        from deepperformer.evaluation.quality import (
            format_quality_table,
            quality_rows,
            summarize,
            write_report,
        )

        acoustic = [p for p in stage_two if stages[p] == "acoustic"]
        rows = quality_rows(vocoders, acoustic, a.manifest, a.split, a.excerpts, a.seconds, refine=refine)
        table = format_quality_table(summarize(rows), a.split, a.seconds)
        print(table)
        if a.report:
            write_report(a.report, rows, table)
        return 0
    if stage_two:
        print(format_table(evaluate_checkpoints(stage_two, a.manifest, a.split, a.batch_size), a.split))
    if vocoders:
        rows = evaluate_vocoders(vocoders, a.manifest, a.split, a.max_clips, a.predicted_mels_from, refine)
        print(format_vocoder_table(rows, a.split))
    if a.note_f1:
        acoustic = [p for p in stage_two if stages[p] == "acoustic"]
        if len(acoustic) != 1 or len(vocoders) != 1:
            raise DeepPerformerError(None, "--note-f1 needs exactly one acoustic checkpoint and one vocoder checkpoint")
        print(format_f1_table(note_f1(acoustic[0], vocoders[0], a.manifest, a.split, a.max_recordings, a.seconds)))
    return 0
