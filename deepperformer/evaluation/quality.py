"""The quality table: how each way of making audio compares with the original, on held-out material.

``deepperformer evaluate CKPT... --quality`` builds it. For each corpus and instrument of the
manifests, a few excerpts of held-out recordings (``seconds`` long, evenly spaced) are made by every
system, and every result is measured:

rows (systems)
    ``original`` (the corpus audio), ``fluidsynth`` (the excerpt's notes rendered by the FluidR3
    SoundFont), ``griffin-lim copy`` and ``<vocoder> copy`` (the vocoder on the original's mel), and
    ``<acoustic> + <vocoder>`` (the full chain: the acoustic model's mel of the excerpt's notes, with
    their true timing, vocoded).
columns (measures)
    log-mel MSE and multi-resolution STFT distance (spectral convergence, log-magnitude L1) against the
    original; piano onset note F1 (Transkun transcription against the notes, 50 ms); violin raw pitch
    accuracy and voicing recall (pYIN f0 within 50 cents of a sounding note, over the frames where a
    note sounds), and the copy's f0 agreement and V/UV F1 against the original's own pYIN track; and
    the frame-rate comb (:func:`frame_rate_comb`) relative to the original's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepperformer.acoustic.inference import predict_mel
from deepperformer.audio.io import load_audio
from deepperformer.audio.mel import MelConfig, log_mel
from deepperformer.core.atomic import write_text
from deepperformer.core.performance import Performance
from deepperformer.core.performers import PerformerVocab
from deepperformer.data.manifest import read_manifest
from deepperformer.data.synthetic import PERFORMER_BY_NAME, render
from deepperformer.evaluation.transcription import onset_f1, transcribe
from deepperformer.pipeline.loading import load_acoustic, vocoder_variants
from deepperformer.vocoders.griffin_lim import with_griffin_lim
from deepperformer.vocoders.stft import multi_resolution_stft

#: pYIN search range for the violin: a little below the open G string (G3, 196 Hz) up to A7.
VIOLIN_F0_RANGE = (180.0, 3600.0)


#: A pitch estimate within this many cents of a sounding note is correct (MIREX raw pitch accuracy).
CENTS_TOLERANCE = 50.0


@dataclass
class Excerpt:
    """``seconds`` of a held-out recording: its audio ``[S]``, its notes ``[N, 3]`` (onset s, offset s,
    MIDI pitch, relative to the excerpt), the performance for the acoustic model, who played it."""

    name: str
    corpus: str
    instrument: str
    audio: np.ndarray
    notes: np.ndarray
    performance: object
    performer: str
    tempo_qpm: float


def frame_rate_comb(audio: np.ndarray, sample_rate: int = 16000, hop: int = 256, nperseg: int = 8192) -> float:
    """Energy at the multiples of the frame rate (``sample_rate / hop``, 62.5 Hz here) against the
    energy between them, as a geometric-mean power ratio over the multiples below Nyquist.

    A transposed-convolution generator that repeats a pattern every hop leaves a stationary comb of
    partials there; natural audio has no reason to, so its ratio stays near the estimator's own
    floor. Compare a system's figure with the original's (``comb / comb_original``): 1 = no comb.
    The long-term spectrum is Welch's (Hann, ``nperseg`` samples, whose bins fall on the multiples).
    """
    from scipy.signal import welch

    rate = sample_rate / hop
    _, p = welch(np.asarray(audio, dtype=np.float64), fs=sample_rate, nperseg=min(nperseg, len(audio)))
    bin_hz = sample_rate / min(nperseg, len(audio))
    ratios = []
    for k in range(1, int((sample_rate / 2 - rate) // rate) + 1):
        on = p[int(round(k * rate / bin_hz))]
        between = np.median(p[int((k + 0.3) * rate / bin_hz) : int((k + 0.7) * rate / bin_hz) + 1])
        ratios.append(np.log((on + 1e-20) / (between + 1e-20)))
    return float(np.exp(np.mean(ratios))) if ratios else 1.0


def f0_track(
    audio: np.ndarray, sample_rate: int = 16000, hop: int = 256, f0_range: tuple[float, float] = VIOLIN_F0_RANGE
) -> tuple[np.ndarray, np.ndarray]:
    """pYIN (librosa): the best f0 guess ``[frames]`` (Hz, voiced or not, as MIREX scores it) and the
    voicing decision ``[frames]`` (bool), one per hop."""
    import librosa

    f0, voiced, _ = librosa.pyin(
        np.asarray(audio, dtype=np.float32),
        fmin=f0_range[0],
        fmax=f0_range[1],
        sr=sample_rate,
        frame_length=1024,
        hop_length=hop,
        fill_na=None,
        center=True,
    )
    return f0, voiced


def pitch_metrics(
    audio: np.ndarray,
    notes: np.ndarray,
    sample_rate: int = 16000,
    hop: int = 256,
    f0_range: tuple[float, float] = VIOLIN_F0_RANGE,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Raw pitch accuracy and voicing recall of ``audio`` against the sounding ``notes [N, 3]``, and,
    given the original's :func:`f0_track` as ``reference``, how faithfully a copy keeps its pitch.

    Over the frames where at least one note sounds, raw pitch accuracy is the share whose best f0
    guess lies within 50 cents of one of the sounding pitches (double stops: any of them); voicing
    recall, the share pYIN calls voiced. Both score the notes, not the recording: a copy can score
    above its original (Griffin-Lim's smoothed partials do). Against the ``reference``, as vocoder
    papers measure pitch (CARGAN's pitch error and V/UV F1): ``f0_agreement``, the share of the
    original's voiced note frames where the copy's f0 lies within 50 cents of the original's, and
    ``vuv_f1``, the copy's voicing decisions scored against the original's over every frame.
    """
    import librosa

    f0, voiced = f0_track(audio, sample_rate, hop, f0_range)
    t = np.arange(len(f0)) * hop / sample_rate
    sounding = (notes[:, 0][None] <= t[:, None]) & (t[:, None] < notes[:, 1][None])  # [frames, notes]
    ref = sounding.any(axis=1)
    if not ref.any():
        out = {"raw_pitch_accuracy": float("nan"), "voicing_recall": float("nan")}
    else:
        cents = 1200 * np.abs(np.log2(f0[:, None] / librosa.midi_to_hz(notes[:, 2])[None]))
        correct = (np.where(sounding, cents, np.inf) <= CENTS_TOLERANCE).any(axis=1)
        out = {"raw_pitch_accuracy": float(correct[ref].mean()), "voicing_recall": float(voiced[ref].mean())}
    if reference is not None:
        f0_ref, voiced_ref = (np.asarray(x)[: len(f0)] for x in reference)
        f0, voiced, ref = f0[: len(f0_ref)], voiced[: len(f0_ref)], ref[: len(f0_ref)]
        keep = voiced_ref & ref
        agree = 1200 * np.abs(np.log2(f0 / f0_ref)) <= CENTS_TOLERANCE
        hits = (voiced & voiced_ref).sum()
        out["f0_agreement"] = float(agree[keep].mean()) if keep.any() else float("nan")
        out["vuv_f1"] = float(2 * hits / (voiced.sum() + voiced_ref.sum())) if voiced_ref.any() else float("nan")
    return out


def excerpts(manifest: Path, split: str, instrument: str, count: int, seconds: float, sample_rate: int) -> list[Excerpt]:
    """Up to ``count`` excerpts of ``seconds`` from the split's recordings of ``instrument`` with
    audio: spread over the recordings, at evenly spaced starts inside each."""

    root = Path(manifest).parent
    recs: dict[str, object] = {}
    for r in read_manifest(manifest):
        if r.split == split and r.instrument == instrument and r.audio:
            recs.setdefault(r.recording, r)
    names = sorted(recs)
    if not names:
        return []
    chosen = [names[i] for i in np.linspace(0, len(names) - 1, min(count, len(names))).round().astype(int)]
    per_rec = int(np.ceil(count / len(chosen)))
    out = []
    for name in chosen:
        r = recs[name]
        audio = load_audio(root / r.audio, sample_rate)
        perf = Performance.load(root / r.performance)
        total = len(audio) / sample_rate
        starts = np.linspace(0, max(0.0, total - seconds), per_rec + 2)[1:-1] if per_rec > 1 else [0.0]
        for s in starts[: count - len(out)]:
            part = perf.window(float(s), float(s) + seconds)
            n = part.notes
            notes = np.stack([n["onset_sec"], n["onset_sec"] + n["duration_sec"], n["pitch"]], 1).astype(np.float64)
            notes = notes[(notes[:, 0] >= 0) & (notes[:, 0] < seconds)]  # notes that start inside the excerpt
            clip = audio[int(s * sample_rate) : int((s + seconds) * sample_rate)]
            out.append(Excerpt(f"{name}@{s:.0f}s", root.name, instrument, clip, notes, part, r.performer, r.tempo_qpm))
    return out


def measure(audio: np.ndarray, ex: Excerpt, original: dict, mel_config: MelConfig, transcriber=None) -> dict:
    """Every measure of ``audio`` made for excerpt ``ex`` (``original``: the original's mel and comb)."""

    sr = mel_config.sample_rate
    n = min(len(audio), len(ex.audio))
    audio = np.pad(audio, (0, max(0, len(ex.audio) - len(audio))))[: len(ex.audio)]
    m = log_mel(audio, mel_config)
    row = {"logmel_mse": float(((m - original["mel"]) ** 2).mean())}
    sc, mag = multi_resolution_stft(torch.from_numpy(audio[None, :n]).float(), torch.from_numpy(ex.audio[None, :n]).float())
    row.update(stft_sc=float(sc), stft_mag=float(mag))
    row["comb_ratio"] = frame_rate_comb(audio, sr, mel_config.hop_length) / original["comb"]
    if ex.instrument == "piano":
        f = onset_f1(ex.notes, (transcriber or transcribe)(audio, sr))
        row.update(note_f1=f["f1"], note_precision=f["precision"], note_recall=f["recall"])
    else:
        row.update(pitch_metrics(audio, ex.notes, sr, mel_config.hop_length, reference=original.get("f0")))
    return row


def labels(specs: list) -> list[str]:
    """Short names for checkpoints in a table: the file's stem, with its folder where stems repeat
    (two runs' ``model.pt``)."""
    stems = [Path(str(s)).stem for s in specs]
    return [f"{Path(str(s)).parent.name}/{st}" if stems.count(st) > 1 else st for s, st in zip(specs, stems)]


def quality_rows(
    vocoders: list,
    acoustics: list[Path],
    manifests: list[Path],
    split: str = "test",
    count: int = 4,
    seconds: float = 20.0,
    fluidsynth: bool = True,
    transcriber=None,
    progress: bool = True,
    refine: tuple[int, ...] = (),
) -> list[dict]:
    """One row per (corpus, instrument, system, excerpt) with every measure; see the module docstring.

    ``vocoders``: checkpoint paths (Griffin-Lim is always added first); ``acoustics``: acoustic
    checkpoints, each chained with every vocoder on the excerpts of its instrument; ``refine``: each
    neural vocoder is also measured followed by that many refinement iterations.
    """
    from tqdm import tqdm

    cfg = MelConfig()
    specs = with_griffin_lim(vocoders)
    names = dict(zip(specs, labels(specs)))
    vocs = [(names[spec] + suffix, model, ckpt) for spec, suffix, model, ckpt in vocoder_variants(specs, cfg, refine)]
    models = [(name, *load_acoustic(a)) for name, a in zip(labels(acoustics), acoustics)]
    rows = []
    for manifest in manifests:
        instruments = sorted({r.instrument for r in read_manifest(manifest) if r.split == split and r.audio})
        for inst in instruments:
            exs = excerpts(manifest, split, inst, count, seconds, cfg.sample_rate)
            for ex in tqdm(
                exs,
                desc=f"quality ({Path(manifest).parent.name}, {inst})",
                unit="excerpt",
                disable=not progress,
                dynamic_ncols=True,
            ):
                mel = log_mel(ex.audio, cfg)
                original = {"mel": mel, "comb": frame_rate_comb(ex.audio, cfg.sample_rate, cfg.hop_length)}
                if inst != "piano":  # the original's pitch track, which every copy is held to
                    original["f0"] = f0_track(ex.audio, cfg.sample_rate, cfg.hop_length)
                systems = [("original", ex.audio)]
                if fluidsynth:  # the same notes (those that start inside the excerpt) by a SoundFont
                    n = ex.performance.notes
                    perf = Performance(n[n["onset_sec"] >= 0], ex.performance.pedal, ex.performance.source)
                    systems.append(("fluidsynth", render(perf, PERFORMER_BY_NAME[f"{inst}-fluidr3"], cfg.sample_rate)))
                systems += [(f"{v} copy", voc.vocode(mel)) for v, voc, _ in vocs]
                for a, model, ckpt in models:
                    if ckpt["config"].get("instrument") != inst:
                        continue
                    p = PerformerVocab.of(ckpt).get(ex.performer, 0)  # another corpus's performer: the first
                    pred = predict_mel(model, ex.performance, p, ex.tempo_qpm, cfg, n_frames=len(mel))
                    systems += [(f"{a} + {v}", voc.vocode(pred)) for v, voc, _ in vocs]
                for name, audio in systems:
                    rows.append(
                        {
                            "corpus": ex.corpus,
                            "instrument": inst,
                            "system": name,
                            "excerpt": ex.name,
                            **measure(np.asarray(audio, dtype=np.float32), ex, original, cfg, transcriber),
                        }
                    )
    return rows


MEASURES = (
    "logmel_mse",
    "stft_sc",
    "stft_mag",
    "note_f1",
    "note_precision",  # of the transcribed onsets: a vocoder's noise heard as notes lowers it
    "note_recall",  # of the played onsets: smeared attacks lower it
    "raw_pitch_accuracy",
    "voicing_recall",
    "f0_agreement",  # with the original's f0, where it is voiced: a copy's pitch fidelity
    "vuv_f1",  # the original's voicing decisions
    "comb_ratio",
)


def summarize(rows: list[dict]) -> list[dict]:
    """Means over excerpts per (corpus, instrument, system), in the order the systems first appear."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["corpus"], r["instrument"], r["system"]), []).append(r)
    out = []
    for (corpus, inst, system), rs in groups.items():
        row = {"corpus": corpus, "instrument": inst, "system": system, "excerpts": len(rs)}
        for m in MEASURES:
            vals = [r[m] for r in rs if m in r and not np.isnan(r[m])]
            row[m] = float(np.mean(vals)) if vals else None
        out.append(row)
    return out


def format_quality_table(summary: list[dict], split: str, seconds: float) -> str:
    """Markdown: one table per corpus and instrument."""
    lines = [
        f"Quality on the {split} split ({seconds:.0f}-s excerpts; MSE, SC, mag against the original; "
        f"comb = frame-rate comb / the original's)"
    ]
    cols = [
        ("log-mel MSE", "logmel_mse", 4),
        ("MR-STFT SC", "stft_sc", 3),
        ("MR-STFT mag", "stft_mag", 3),
        ("note F1", "note_f1", 3),
        ("note P", "note_precision", 3),
        ("note R", "note_recall", 3),
        ("raw pitch acc.", "raw_pitch_accuracy", 3),
        ("voicing recall", "voicing_recall", 3),
        ("f0 agreement", "f0_agreement", 3),
        ("V/UV F1", "vuv_f1", 3),
        ("comb", "comb_ratio", 2),
    ]
    key = None
    for r in summary:
        if (r["corpus"], r["instrument"]) != key:
            key = (r["corpus"], r["instrument"])
            used = [c for c in cols if any(s[c[1]] is not None for s in summary if (s["corpus"], s["instrument"]) == key)]
            lines += [
                "",
                f"{r['corpus']} / {r['instrument']} ({r['excerpts']} excerpts)",
                "",
                "| system | " + " | ".join(c[0] for c in used) + " |",
                "|---|" + "---:|" * len(used),
            ]
        cells = ["–" if r[c[1]] is None else f"{r[c[1]]:.{c[2]}f}" for c in used]
        lines.append(f"| {r['system']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(path: Path, rows: list[dict], table: str) -> None:
    """``path`` (.csv): every excerpt's measures; ``path`` with .md: the table."""
    import csv
    import io

    fields = ["corpus", "instrument", "system", "excerpt", *MEASURES]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    write_text(Path(path).with_suffix(".csv"), buf.getvalue())
    write_text(Path(path).with_suffix(".md"), table + "\n")
