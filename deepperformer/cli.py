"""The ``deepperformer`` command.

Verbs: ``prepare`` (a dataset -> manifest and caches), ``render`` (score -> deadpan performance),
``check-scores`` (load every score of the datasets at hand), ``datasets``, ``version``.
Bad input ends with one line ``deepperformer: error: <file>: <problem>`` and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deepperformer import __version__
from deepperformer.errors import EXIT_BAD_INPUT, DeepPerformerError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: one line, exit 2, like bad input
        self.print_usage(sys.stderr)
        raise SystemExit(_fail(message))


def _fail(message: str) -> int:
    print(f"deepperformer: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def build_parser() -> argparse.ArgumentParser:
    from deepperformer.data.synthetic import SOURCE_NAMES

    p = _Parser(prog="deepperformer", description="Score-to-audio music performance synthesis (Deep Performer).")
    p.add_argument("--version", action="version", version=f"deepperformer {__version__}")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    pr = sub.add_parser("prepare", help="prepare a dataset in its official layout: manifest, splits, cached mels and notes")
    pr.add_argument("dataset", help="bach-violin | maestro | nasap | vienna4x22 | batik | synthetic")
    pr.add_argument("root", type=Path, help="the dataset's folder (for synthetic: a folder holding the source datasets)")
    pr.add_argument("-o", "--out", type=Path, required=True, help="output folder (resumed if it exists)")
    pr.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    pr.add_argument("--strict", action="store_true", help="stop at the first recording that fails instead of skipping it")
    pr.add_argument("--splits", type=Path, help="a splits.json whose held-out pieces are kept (e.g. from another corpus)")
    pr.add_argument("--limit", type=int, help="prepare only the first N recordings (for trials)")
    pr.add_argument("--baroque-tuning", choices=("transpose", "keep", "skip"), default="transpose",
                    help="bach-violin: movements played a semitone flat (default: lower their performance pitches by one)")
    pr.add_argument("--all-alignments", action="store_true", help="nasap: also use rows without a robust note alignment")
    pr.add_argument("--piano-hours", type=float, default=2.2, help="synthetic: hours of piano to render (default 2.2)")
    pr.add_argument("--violin-hours", type=float, default=1.1, help="synthetic: hours of violin to render (default 1.1)")
    pr.add_argument("--source", action="append", default=[], metavar="NAME=PATH",
                    help=f"synthetic: folder of a source dataset ({', '.join(SOURCE_NAMES)}); default ROOT/NAME")

    rd = sub.add_parser("render", help="render a score to a deadpan performance (MIDI or note CSV, plus a piano-roll PNG)")
    rd.add_argument("score", type=Path, help="MusicXML, MXL, MEI, Humdrum kern or MIDI score")
    rd.add_argument("-o", "--out", type=Path, required=True, help="output .mid or .csv")
    rd.add_argument("--tempo", type=float, help="constant tempo in quarter notes per minute (default: the score's markings, else 120)")
    rd.add_argument("--unfold", choices=("maximal", "minimal", "none"), default="maximal", help="repeats: all (default), none, as written")
    rd.add_argument("--program", type=int, default=0, help="General MIDI program of the MIDI output (0 piano, 40 violin)")
    rd.add_argument("--no-png", action="store_true", help="do not write the piano-roll PNG beside the output")

    cs = sub.add_parser("check-scores", help="load every score of the datasets under a data folder and report failures")
    cs.add_argument("root", type=Path, help="folder holding nasap/, vienna4x22/, batik/, bach-violin/")
    cs.add_argument("-o", "--out", type=Path, help="CSV with one row per score")
    cs.add_argument("--work", type=Path, default=Path("prepared/_work"), help="where archives are extracted")
    cs.add_argument("--workers", type=int, default=1)

    tr = sub.add_parser("train", help="train a stage from a recipe (resumes from the run folder's last checkpoint)")
    tr.add_argument("recipe", type=Path, help="recipes/<dataset>/<stage>.yaml")
    tr.add_argument("-o", "--out", type=Path, help="run folder (default runs/<recipe folder>-<recipe name>)")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value, e.g. trainer.max_steps=2000")
    tr.add_argument("--max-steps", type=int, help="shortcut for --set trainer.max_steps=N")
    tr.add_argument("--devices", help="shortcut for --set trainer.devices=N (several GPUs train with DDP)")
    tr.add_argument("--num-nodes", type=int, help="shortcut for --set trainer.num_nodes=N")
    tr.add_argument("--accelerator", help="cpu | gpu | auto")

    ev = sub.add_parser("evaluate", help="log-mel MSE table of acoustic/baseline checkpoints; copy synthesis of vocoders; piano note F1")
    ev.add_argument("checkpoints", type=Path, nargs="+", help="exported checkpoints (acoustic, baseline, vocoder; griffin-lim)")
    ev.add_argument("--manifest", type=Path, action="append", required=True, help="prepared manifest.csv (repeatable)")
    ev.add_argument("--split", default="test", choices=("train", "validation", "test"))
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--max-clips", type=int, help="vocoders: at most this many clips per corpus and instrument (evenly spaced)")
    ev.add_argument("--predicted-mels-from", type=Path, action="append", default=[], metavar="ACOUSTIC",
                    help="vocoders: also vocode this acoustic model's teacher-forced mels of the split (repeatable)")
    ev.add_argument("--note-f1", action="store_true",
                    help="also transcribe (Transkun) the synthesis of one piano acoustic model + one vocoder and the corpus audio")
    ev.add_argument("--quality", action="store_true",
                    help="the quality table: original, FluidSynth, Griffin-Lim and each vocoder's copy synthesis, each acoustic "
                         "model + vocoder chain; log-mel MSE, MR-STFT, piano note F1, violin pitch accuracy, frame-rate comb")
    ev.add_argument("--excerpts", type=int, default=4, help="--quality: excerpts per corpus and instrument (default 4)")
    ev.add_argument("--report", type=Path, help="--quality: also write the per-excerpt rows as CSV and the table as markdown (REPORT.md)")
    ev.add_argument("--max-recordings", type=int, default=8, help="--note-f1: recordings (evenly spaced, default 8)")
    ev.add_argument("--seconds", type=float, default=20.0, help="--note-f1, --quality: seconds per excerpt (default 20)")

    sy = sub.add_parser("synthesize", help="score or performance -> WAV with the shipped (or given) acoustic model and vocoder")
    sy.add_argument("input", type=Path, help="a score (MusicXML, MXL, MEI, kern; MIDI with --tempo) or a performance (MIDI, match, note CSV)")
    sy.add_argument("-o", "--out", type=Path, required=True, help="output .wav or .flac")
    sy.add_argument("--instrument", choices=("piano", "violin"), default="piano")
    sy.add_argument("--performer", help="a performer the acoustic model knows (`deepperformer performers`); default: its first")
    sy.add_argument("--tempo", type=float, help="scores: constant tempo in quarter notes per minute (default: the markings, else 120)")
    sy.add_argument("--unfold", choices=("maximal", "minimal", "none"), default="maximal", help="score repeats (default: all taken)")
    sy.add_argument("--seed", type=int, default=0, help="random seed (for the stochastic renderer; the current stages are deterministic)")
    sy.add_argument("--acoustic", type=Path, help="acoustic-model checkpoint (default: the shipped one for the instrument)")
    sy.add_argument("--vocoder", type=Path, help="vocoder checkpoint, or griffin-lim (default: the shipped one)")
    sy.add_argument("--png", action="store_true", help="also write the predicted mel above the notes as OUT.png")

    vc = sub.add_parser("vocode", help="copy synthesis of a recording: audio -> log-mel -> vocoder -> WAV")
    vc.add_argument("audio", type=Path, help="a recording (wav, flac, mp3, opus, ogg, aiff; any sample rate)")
    vc.add_argument("-o", "--out", type=Path, required=True, help="output .wav or .flac")
    vc.add_argument("--vocoder", help="vocoder checkpoint, or griffin-lim (default: the shipped shared vocoder)")
    vc.add_argument("--png", action="store_true", help="also write the original and vocoded mels as OUT.png")

    pf = sub.add_parser("performers", help="the performers each acoustic model can play as")
    pf.add_argument("--instrument", choices=("piano", "violin"), help="only this instrument's shipped model")
    pf.add_argument("--acoustic", type=Path, action="append", help="an acoustic checkpoint (repeatable; default: the shipped ones)")

    inf = sub.add_parser("info", help="what an exported checkpoint is: stage, performers, data, steps, metrics")
    inf.add_argument("checkpoint", type=Path)

    sub.add_parser("datasets", help="list the datasets `prepare` knows")
    return p


def cmd_prepare(a) -> int:
    from deepperformer.data.base import PrepareOptions
    from deepperformer.data.prepare import format_summary, prepare

    sources = {}
    for s in a.source:
        if "=" not in s:
            raise DeepPerformerError(None, f"--source {s!r}: expected NAME=PATH")
        k, v = s.split("=", 1)
        sources[k] = v
    if a.workers < 1:
        raise DeepPerformerError(None, "--workers must be at least 1")
    opts = PrepareOptions(baroque_tuning=a.baroque_tuning, all_alignments=a.all_alignments,
                          piano_hours=a.piano_hours, violin_hours=a.violin_hours, sources=sources)
    summary = prepare(a.dataset, a.root, a.out, workers=a.workers, strict=a.strict, splits_file=a.splits, limit=a.limit, options=opts)
    print(format_summary(summary))
    print(f"manifest: {a.out / 'manifest.csv'}")
    return 0


def cmd_render(a) -> int:
    from deepperformer.performance import deadpan
    from deepperformer.plots import save_piano_roll
    from deepperformer.score import load_score

    suffix = a.out.suffix.lower()
    if suffix not in (".mid", ".midi", ".csv"):
        raise DeepPerformerError(a.out, "output must end in .mid, .midi or .csv")
    if a.tempo is not None and not (10 <= a.tempo <= 400):
        raise DeepPerformerError(None, f"--tempo {a.tempo}: expected 10..400 quarter notes per minute")
    score = load_score(a.score, unfold=a.unfold)
    perf = deadpan(score, qpm=a.tempo)
    if suffix == ".csv":
        perf.write_csv(a.out)
    else:
        perf.write_midi(a.out, program=a.program)
    print(f"{a.score}: {len(score)} notes, {perf.duration:.1f} s -> {a.out}")
    if not a.no_png:
        png = a.out.with_suffix(".png")
        save_piano_roll(perf, png, title=f"{a.score.name} (deadpan)")
        print(f"piano roll: {png}")
    return 0


def cmd_check_scores(a) -> int:
    from deepperformer.data.score_check import check_scores
    from deepperformer.errors import require_dir

    res = check_scores(require_dir(a.root, "data folder"), a.out, a.work, workers=a.workers)
    for d in sorted(set(res["ok"]) | set(res["failed"])):
        print(f"{d:<12} loaded {res['ok'].get(d, 0):>4}  failed {res['failed'].get(d, 0):>4}")
    for e in res["errors"]:
        print(f"  failed: {e}")
    return 0


def cmd_datasets(a) -> int:
    from deepperformer.data.prepare import DATASETS

    for name, spec in DATASETS.items():
        print(f"{name:<12} {spec.description}")
    return 0


def cmd_train(a) -> int:
    from deepperformer.recipes import load_recipe

    overrides = list(a.set)
    for key, value in (("trainer.max_steps", a.max_steps), ("trainer.devices", a.devices),
                       ("trainer.num_nodes", a.num_nodes), ("trainer.accelerator", a.accelerator)):
        if value is not None:
            overrides.append(f"{key}={value}")
    recipe = load_recipe(a.recipe, overrides)
    out = a.out or Path("runs") / f"{a.recipe.parent.name}-{a.recipe.stem}"
    if recipe.get("stage") == "vocoder":
        from deepperformer.train_vocoder import train_vocoder

        train_vocoder(recipe, out)
    elif recipe.get("stage") in ("acoustic", "baseline"):
        from deepperformer.train import train_stage_two

        train_stage_two(recipe, out)
    else:
        raise DeepPerformerError(a.recipe, f"stage {recipe.get('stage')!r} cannot be trained (acoustic, baseline and vocoder can)")
    return 0


def cmd_evaluate(a) -> int:
    from deepperformer.checkpoint import load_checkpoint
    from deepperformer.evaluate import (evaluate_checkpoints, evaluate_vocoders, format_f1_table, format_table,
                                        format_vocoder_table, note_f1)

    from deepperformer.models.griffin_lim import NAME as GRIFFIN_LIM

    stages = {p: "vocoder" if str(p) == GRIFFIN_LIM else load_checkpoint(p, ("acoustic", "baseline", "vocoder"))["stage"]
              for p in a.checkpoints}
    stage_two = [p for p in a.checkpoints if stages[p] != "vocoder"]
    vocoders = [p for p in a.checkpoints if stages[p] == "vocoder"]
    if a.quality:
        from deepperformer.quality import format_quality_table, quality_rows, summarize, write_report

        acoustic = [p for p in stage_two if stages[p] == "acoustic"]
        rows = quality_rows(vocoders, acoustic, a.manifest, a.split, a.excerpts, a.seconds)
        table = format_quality_table(summarize(rows), a.split, a.seconds)
        print(table)
        if a.report:
            write_report(a.report, rows, table)
        return 0
    if stage_two:
        print(format_table(evaluate_checkpoints(stage_two, a.manifest, a.split, a.batch_size), a.split))
    if vocoders:
        print(format_vocoder_table(evaluate_vocoders(vocoders, a.manifest, a.split, a.max_clips, a.predicted_mels_from), a.split))
    if a.note_f1:
        acoustic = [p for p in stage_two if stages[p] == "acoustic"]
        if len(acoustic) != 1 or len(vocoders) != 1:
            raise DeepPerformerError(None, "--note-f1 needs exactly one acoustic checkpoint and one vocoder checkpoint")
        print(format_f1_table(note_f1(acoustic[0], vocoders[0], a.manifest, a.split, a.max_recordings, a.seconds)))
    return 0


def cmd_synthesize(a) -> int:
    from deepperformer.synthesize import synthesize

    synthesize(a.input, a.out, a.instrument, performer=a.performer, tempo=a.tempo, acoustic=a.acoustic, vocoder=a.vocoder,
               seed=a.seed, mel_png=a.png, unfold=a.unfold)
    return 0


def cmd_vocode(a) -> int:
    from deepperformer.vocode import vocode_file

    vocode_file(a.audio, a.out, a.vocoder, png=a.png)
    return 0


def cmd_performers(a) -> int:
    from deepperformer.checkpoint import load_checkpoint
    from deepperformer.loading import DEFAULTS, default_checkpoint

    paths = a.acoustic or [default_checkpoint(i, "acoustic") for i in DEFAULTS if a.instrument in (None, i)]
    for path in paths:
        ckpt = load_checkpoint(path, "acoustic")
        print(f"{ckpt['config'].get('instrument')} ({path}):")
        for k, name in enumerate(ckpt["performer_vocab"]):
            print(f"  {name}{'  (default)' if k == 0 else ''}")
    return 0


def cmd_info(a) -> int:
    from deepperformer.checkpoint import STAGES, load_checkpoint

    ckpt = load_checkpoint(a.checkpoint, STAGES)
    prov, cfg = ckpt["provenance"], ckpt["config"]
    n_params = sum(v.numel() for k, v in ckpt["state_dict"].items() if not k.startswith("log_mel."))
    print(f"{a.checkpoint}: {ckpt['stage']} model ({cfg.get('variant', '')}), {n_params / 1e6:.2f} M parameters, "
          f"instrument {cfg.get('instrument') or 'all'}, deepperformer {ckpt['deepperformer_version']}, format {ckpt['format_version']}")
    if ckpt["performer_vocab"]:
        print(f"performers: {', '.join(ckpt['performer_vocab'])}")
    if prov.get("adversarial_steps") is not None:
        print(f"adversarial steps: {prov['adversarial_steps']} (the rest: generator warm-up)")
    print(f"trained: {prov.get('steps')} steps, batch {prov.get('batch_size')}, {prov.get('seconds_per_step')} s/step on {prov.get('device')}")
    if prov.get("init_from"):
        sha = prov.get("init_from_sha256")
        print(f"fine-tuned from: {prov['init_from']} ({prov.get('init_from_steps', '?')} steps"
              + (f", sha256 {sha[:12]})" if sha else ")"))
    if prov.get("predicted_mels_from"):
        print(f"on the teacher-forced mels of: {prov['predicted_mels_from']}")
    for d in prov.get("data", []):
        print(f"data: {d['manifest']} (sha256 {d['sha256'][:12]}), {prov.get('train_clips')} train / {prov.get('validation_clips')} validation clips")
    for k, v in prov.get("metrics", {}).items():
        print(f"{k}: {v}")
    return 0


COMMANDS = {"synthesize": cmd_synthesize, "vocode": cmd_vocode, "performers": cmd_performers, "info": cmd_info, "train": cmd_train, "evaluate": cmd_evaluate, "prepare": cmd_prepare, "render": cmd_render, "check-scores": cmd_check_scores, "datasets": cmd_datasets}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.verb](args)
    except DeepPerformerError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        print("deepperformer: interrupted (prepare resumes where it stopped)", file=sys.stderr)
        return 130
    except SystemExit as e:
        return int(e.code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
