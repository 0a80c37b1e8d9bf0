"""``deepperformer evaluate``: the paper's log-mel MSE for stage-2 checkpoints (acoustic models and the
baseline) in one table beside the paper's figures; copy-synthesis errors for vocoders; and the piano
note F1 of the whole synthesis chain against the corpus audio (``--note-f1``)."""

from __future__ import annotations

from pathlib import Path

from deepperformer.acoustic.inference import predict_mel
from deepperformer.acoustic.metrics import evaluate_mse
from deepperformer.audio.io import load_audio
from deepperformer.audio.mel import MelConfig
from deepperformer.core.checkpoint import total_steps
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance
from deepperformer.core.performers import PerformerVocab
from deepperformer.data.audio_clips import AudioClipDataset
from deepperformer.data.clips import ClipDataset
from deepperformer.data.manifest import read_manifest
from deepperformer.evaluation.transcription import onset_f1, transcribe
from deepperformer.pipeline.loading import load_acoustic, load_stage_two, load_vocoder, vocoder_variants
from deepperformer.pipeline.predicted_mels import cache_predicted_mels
from deepperformer.vocoders.griffin_lim import with_griffin_lim
from deepperformer.vocoders.metrics import copy_synthesis_errors

#: The paper's validation log-mel MSE (violin, piano), Table 1 of Dong et al. 2022.
PAPER = {
    "baseline": (0.892, 0.722),
    "full": (0.700, 0.436),
    "no_notewise_pe": (0.700, 0.433),
    "no_performer": (1.030, 0.523),
    "no_encoder": (0.844, 0.621),
}


def evaluate_checkpoints(paths: list[Path], manifests: list[Path], split: str, batch_size: int = 16) -> list[dict]:
    rows = []
    for p in paths:
        model, ckpt = load_stage_two(p)
        inst = ckpt["config"].get("instrument")
        ds = ClipDataset(manifests, split, ckpt["performer_vocab"], inst, MelConfig())
        mse = evaluate_mse(model, ds, batch_size, progress=True)
        variant = "baseline" if ckpt["stage"] == "baseline" else ckpt["config"].get("variant", "full")
        rows.append(
            {
                "checkpoint": str(p),
                "variant": variant,
                "instrument": inst,
                "steps": total_steps(ckpt["provenance"]),
                "clips": len(ds),
                "mse": mse,
            }
        )
    return rows


def format_table(rows: list[dict], split: str) -> str:
    head = f"{split} MSE"
    w = max([16, *(len(str(r["variant"])) + 2 for r in rows)])  # a long variant name keeps its column apart
    lines = [f"{'variant':<{w}}{'instrument':<11}{'steps':>8}{'clips':>7}{head:>16}{'paper':>8}  checkpoint"]
    for r in rows:
        paper = PAPER.get(r["variant"])
        ref = "" if paper is None else f"{paper[0 if r['instrument'] == 'violin' else 1]:.3f}"
        lines.append(
            f"{r['variant']:<{w}}{str(r['instrument']):<11}{str(r['steps']):>8}{r['clips']:>7}"
            f"{r['mse']:>16.4f}{ref:>8}  {r['checkpoint']}"
        )
    return "\n".join(lines)


def evaluate_vocoders(
    paths: list[Path],
    manifests: list[Path],
    split: str,
    max_clips: int | None = None,
    predicted_from: list[Path] = (),
    refine: tuple[int, ...] = (),
) -> list[dict]:
    """Copy synthesis of held-out audio, one row per (vocoder, mel source, corpus, instrument).

    The mel source is the corpus's own mel (ground truth), and then each acoustic model of
    ``predicted_from``: its teacher-forced prediction for the same recordings (its instrument and
    performers only), time-aligned with the real audio, so the row measures the two-stage chain with
    the true timing: the error a vocoder fine-tuned on predicted mels is meant to lower. ``refine``:
    each neural vocoder is also measured followed by that many refinement iterations.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="deepperformer-eval-") as tmp:
        sources = [("ground-truth", None, None)]
        for k, a in enumerate(predicted_from):  # predicted once, shared by every vocoder
            _, ckpt = load_acoustic(a)
            dirs = cache_predicted_mels(Path(a), manifests, Path(tmp) / str(k), splits=(split,), log=lambda *_: None)
            sources.append((f"predicted:{Path(a).name}", ckpt["config"].get("instrument"), dirs))

        models = vocoder_variants(with_griffin_lim(paths), None, refine)
        rows = []
        for source, only, dirs in sources:
            for m in manifests:
                instruments = sorted({r.instrument for r in read_manifest(m) if r.split == split and r.audio})
                for inst in instruments:
                    if only is not None and (inst != only or not any(dirs[Path(m).parent].glob("*.npy"))):
                        continue  # another instrument, or none of this corpus's performers is the model's
                    ds = AudioClipDataset([m], split, inst, max_clips=max_clips, mel_dirs=dirs)
                    for p, suffix, model, ckpt in models:
                        res = copy_synthesis_errors(model, ds, progress=True)
                        rows.append(
                            {
                                "checkpoint": str(p),
                                "variant": ckpt["config"].get("variant", "") + suffix,
                                "steps": total_steps(ckpt["provenance"]),
                                "mels": source,
                                "corpus": Path(m).parent.name,
                                "instrument": inst,
                                **res,
                            }
                        )
    return rows


def format_vocoder_table(rows: list[dict], split: str) -> str:
    lines = [
        f"copy synthesis ({split} split): log-mel MSE and multi-resolution STFT distance between real and vocoded audio",
        f"{'vocoder':<32}{'steps':>8}  {'mels':<40} {'corpus':<14}{'instrument':<11}{'clips':>6}{'log-mel MSE':>13}{'STFT SC':>9}"
        f"{'STFT mag':>10}",
    ]
    for r in rows:
        lines.append(
            f"{r['variant']:<32}{str(r['steps']):>8}  {r.get('mels', 'ground-truth'):<40} {r['corpus']:<14}{r['instrument']:<11}"
            f"{r['clips']:>6}{r['logmel_mse']:>13.4f}{r['stft_sc']:>9.3f}{r['stft_mag']:>10.3f}"
        )
    return "\n".join(lines)


def note_f1(
    acoustic_path: Path,
    vocoder_path: Path,
    manifests: list[Path],
    split: str,
    max_recordings: int = 8,
    seconds: float = 30.0,
    transcriber=None,
    log=print,
) -> dict:
    """Onset note F1 of piano synthesis against its input notes, beside the corpus's own audio.

    For up to ``max_recordings`` piano recordings of the split (evenly spaced), the first ``seconds``
    of the performance are synthesized by the acoustic model + vocoder; both that audio and the
    corpus audio of the same notes (the FluidSynth rendering, for the synthetic corpus) are
    transcribed (Transkun) and scored against the input notes (mir_eval, 50 ms onsets), and so is the
    vocoder's copy synthesis of the corpus mel, which tells the vocoder's losses from the acoustic model's.
    """
    import numpy as np
    from tqdm import tqdm

    transcriber = transcriber or transcribe
    model, ckpt = load_acoustic(acoustic_path)
    if ckpt["config"].get("instrument") != "piano":
        raise DeepPerformerError(acoustic_path, "note F1 is measured for piano models (Transkun transcribes piano)")
    voc, _ = load_vocoder(vocoder_path)
    vocab = PerformerVocab.of(ckpt)
    recs = {}
    for m in manifests:
        for r in read_manifest(m):
            if r.split == split and r.instrument == "piano" and r.audio and r.performer in vocab:
                recs.setdefault(r.recording, (Path(m).parent, r))
    if not recs:
        raise DeepPerformerError(manifests[0], f"no piano recordings with audio of known performers in split {split!r}")
    names = sorted(recs)
    names = [names[i] for i in np.linspace(0, len(names) - 1, min(max_recordings, len(names))).round().astype(int)]
    cfg = MelConfig()
    per = []
    for name in tqdm(names, desc="note F1", unit="recording", dynamic_ncols=True):
        root, r = recs[name]
        perf = Performance.load(root / r.performance).window(0.0, seconds)
        ref_audio = load_audio(root / r.audio, cfg.sample_rate)[: int(seconds * cfg.sample_rate)]
        mel = predict_mel(model, perf, vocab.index(r.performer), r.tempo_qpm, n_frames=cfg.n_frames(len(ref_audio)))
        ours = voc.vocode(mel)[: len(ref_audio)]
        # the vocoder alone, from the mel of the corpus audio: where the chain loses notes
        copy = voc.vocode(np.load(root / r.mel, mmap_mode="r")[: len(mel)].astype(np.float32))[: len(ref_audio)]
        n = perf.notes
        ref_notes = np.stack([n["onset_sec"], n["onset_sec"] + n["duration_sec"], n["pitch"]], 1).astype(np.float64)
        ref_notes = ref_notes[ref_notes[:, 0] < len(ref_audio) / cfg.sample_rate]
        row = {
            "recording": name,
            "notes": len(ref_notes),
            "ours": onset_f1(ref_notes, transcriber(ours, cfg.sample_rate)),
            "vocoder": onset_f1(ref_notes, transcriber(copy, cfg.sample_rate)),
            "reference": onset_f1(ref_notes, transcriber(ref_audio, cfg.sample_rate)),
        }
        log(
            f"{name}: {len(ref_notes)} notes, F1 ours {row['ours']['f1']:.3f}, vocoder copy synthesis "
            f"{row['vocoder']['f1']:.3f}, "
            f"reference {row['reference']['f1']:.3f}"
        )
        per.append(row)
    mean = {
        k: {m: float(np.mean([p[k][m] for p in per])) for m in ("precision", "recall", "f1")}
        for k in ("ours", "vocoder", "reference")
    }
    return {"recordings": per, "mean": mean, "seconds": seconds, "split": split}


def format_f1_table(res: dict) -> str:
    n, s = len(res["recordings"]), res["seconds"]
    lines = [
        f"piano note F1 (onset, 50 ms; Transkun transcription vs input notes), {res['split']} split, {n} recordings x {s:.0f} s",
        f"{'audio':<36}{'precision':>10}{'recall':>8}{'F1':>8}",
    ]
    for key, label in (
        ("ours", "ours (acoustic model + vocoder)"),
        ("vocoder", "vocoder alone (corpus mel)"),
        ("reference", "corpus audio (FluidSynth reference)"),
    ):
        m = res["mean"][key]
        lines.append(f"{label:<36}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}")
    return "\n".join(lines)
