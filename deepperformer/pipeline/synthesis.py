"""``deepperformer synthesize INPUT -o OUT.wav``: score or performance -> audio, all three stages.

Stage 1 renders a score with the expressive renderer shipped for the instrument (``--deadpan``: the
score as marked, metronomic at its tempo markings or ``--tempo``, velocities from the dynamics); a
performance input (MIDI, match, note CSV) skips it. Stage 2 predicts
the log-mel chunk by chunk and stage 3 vocodes it chunk by chunk, so memory stays flat for whole
movements.

The shipped checkpoints live in the repository's ``checkpoints/`` folder; ``pipeline.loading.DEFAULTS`` names them per
instrument, and ``--acoustic``/``--vocoder`` override them."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
import torch

from deepperformer.acoustic.inference import predict_baseline_audio, predict_mel
from deepperformer.audio.io import limit_peak, require_audio_output, write_audio
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.instruments import check_range, pitch_name
from deepperformer.core.performers import PerformerVocab
from deepperformer.core.plots import save_mel_with_notes
from deepperformer.core.score import list_parts
from deepperformer.pipeline.loading import (
    DEFAULTS,
    LoadedModel,
    default_checkpoint,
    describe_vocoder,
    load_model,
    with_refinement,
)
from deepperformer.render.inputs import load_input
from deepperformer.vocoders import REFINE_ITERS


def load_pair(
    instrument: str, acoustic: Path | None, vocoder: Path | None, refine: int | None = REFINE_ITERS
) -> tuple[LoadedModel, LoadedModel | None]:
    """(stage-2 model, vocoder), each built from its own checkpoint and checked against the other:
    the same mel configuration, and made for this instrument. A stage-2 checkpoint may be the paper's
    baseline, which makes the audio itself: its vocoder is None (and one given is refused).
    ``refine``: mel-consistency refinement iterations after a neural vocoder (None: none)."""
    a_path = acoustic or default_checkpoint(instrument, "acoustic")
    a = load_model(a_path, ("acoustic", "baseline"))
    if a.instrument != instrument:
        raise DeepPerformerError(a_path, f"is a {a.instrument} model, not a {instrument} one (--instrument {a.instrument}?)")
    if a.stage == "baseline":
        if vocoder is not None:
            raise DeepPerformerError(vocoder, f"the baseline {Path(a_path).name} makes audio from the notes itself: no vocoder")
        return a, None
    v_path = vocoder or default_checkpoint(instrument, "vocoder")
    # Griffin-Lim is made for the acoustic model's own mel configuration; a trained vocoder must match it
    v = load_model(v_path, "vocoder", a.mel_config, f"this vocoder (the acoustic model {Path(a_path).name} uses the other)")
    if v.instrument not in (None, instrument):  # None: a vocoder shared by every instrument
        raise DeepPerformerError(
            v_path, f"is a vocoder for {v.instrument}, not for {instrument} (give a {instrument} or shared vocoder)"
        )
    return a, with_refinement(v, refine)


def performer_index(vocab: PerformerVocab, name: str | None, path: str | Path) -> tuple[int, str]:
    """(embedding row, name) of the performer asked for, or of the model's default performer."""
    name = vocab.default if name is None else name
    return vocab.index(name, path), name


def route_performers(names, renderer, acoustic: PerformerVocab, acoustic_path) -> tuple[str | None, str | None]:
    """(the renderer's performer, the acoustic model's) from the names given: each goes to the stage
    that knows it (pianists to the renderer, voices to the acoustic model); at most one per stage."""
    to_renderer, to_acoustic = [], []
    for name in names:
        if renderer is not None and name in renderer.performers:
            to_renderer.append(name)
        elif name in acoustic:
            to_acoustic.append(name)
        else:
            known = f"the acoustic model knows {', '.join(acoustic) or 'nobody'}"
            if renderer is not None:
                known += f"; the renderer knows {len(renderer.performers)} pianists (`deepperformer performers --stage renderer`)"
            raise DeepPerformerError(acoustic_path, f"unknown performer {name!r} ({known})")
    if len(to_renderer) > 1 or len(to_acoustic) > 1:
        raise DeepPerformerError(None, f"--performer: one per stage, got {', '.join(names)}")
    return (to_renderer or [None])[0], (to_acoustic or [None])[0]


def conditioning_tempo(model, ckpt: dict, qpm: float) -> float:
    """The tempo to condition on: ``qpm`` when the model learnt its tempo bin; else the centre of the
    nearest bin it learnt (unlearnt rows of the tempo embedding keep their random initialisation);
    0 (unknown) when it learnt no tempo at all. Checkpoints without the record get ``qpm``."""
    seen = ckpt["provenance"].get("tempo_bins_seen")
    if not ckpt["config"]["model"].get("use_tempo", True) or seen is None or qpm <= 0:
        return qpm
    b = int(model.tempo_bin(torch.tensor([qpm]))[0])
    known = [s for s in seen if s > 0]
    if b in known:
        return qpm
    if not known:
        return 0.0
    return model.bin_tempo(min(known, key=lambda s: abs(s - b)))


def performance_to_audio(
    a: LoadedModel, v: LoadedModel | None, perf, tempo_qpm: float, performer_row: int, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Stages 2 and 3 on a performance: (log-mel ``[T, n_mels]``, audio ``[S]`` at the stage-2 model's
    sample rate, peak-limited so that it never clips). The mel is the acoustic model's prediction, or
    for the paper's baseline (``v`` None: it makes the audio itself) the mel of its audio."""
    if a.stage == "baseline":
        wav = predict_baseline_audio(a.model, perf, performer_row, a.mel_config, progress=progress)
        with torch.no_grad():
            mel = a.model.log_mel(torch.from_numpy(wav)[None])[0].numpy()
        return mel, limit_peak(wav)
    cond_tempo = conditioning_tempo(a.model, a.checkpoint, tempo_qpm)
    mel = predict_mel(a.model, perf, performer_row, cond_tempo, a.mel_config, progress=progress)
    wav = limit_peak(v.model.vocode(mel, progress=progress))  # scale the rare loud render down
    return mel, wav


def synthesize(
    input_path: Path,
    out: Path,
    instrument: str,
    performers: tuple[str, ...] | list[str] = (),
    tempo: float | None = None,
    acoustic: Path | None = None,
    vocoder: Path | None = None,
    refine: int | None = REFINE_ITERS,
    renderer=None,
    directions: tuple = (),
    mel_png: bool = False,
    unfold: str = "maximal",
    parts: list[str] | None = None,
    progress: bool = True,
    log=print,
) -> dict:
    """Run the three stages and write ``out`` (.wav or .flac) atomically; -> figures of the run.

    ``renderer``: stage 1 for scores (an :class:`~deepperformer.render.inference.ExpressiveRenderer`,
    :func:`~deepperformer.pipeline.loading.stage_one`), None for deadpan; ``performers``: names for the
    renderer and/or the acoustic model (:func:`route_performers`); ``refine``: mel-consistency
    refinement iterations after a neural vocoder (None: none)."""

    require_audio_output(out)
    if instrument not in DEFAULTS:
        raise DeepPerformerError(None, f"--instrument {instrument!r}: expected {' or '.join(DEFAULTS)}")
    t0 = time.perf_counter()
    a, v = load_pair(instrument, acoustic, vocoder, refine)
    a_path = acoustic or default_checkpoint(instrument, "acoustic")
    r_performer, a_performer = route_performers(list(performers), renderer, a.performers, a_path)
    rendered = load_input(Path(input_path), tempo, unfold, renderer, r_performer, parts, directions)
    perf = rendered.performance
    try:
        check_range(perf, instrument, Path(input_path))
    except DeepPerformerError as e:
        several = rendered.source == "score" and not parts and len(info := list_parts(input_path)) > 1
        if not several:
            raise
        listing = "; ".join(
            f"{p.index}: {p.name or p.id} ({p.notes} notes, {pitch_name(p.lowest)}-{pitch_name(p.highest)})" for p in info
        )
        raise DeepPerformerError(
            input_path, f"{e.problem}. The score's {len(info)} parts were merged ({listing}): choose the one to play with --part"
        ) from None
    mel_config = a.mel_config
    p_idx, p_name = performer_index(a.performers, a_performer, a_path)
    stage1 = ""
    if rendered.source == "score":
        who = r_performer or (renderer.performers.default if renderer is not None else None)
        stage1 = f", {rendered.tempo_qpm:.0f} qpm, " + ("deadpan" if renderer is None else f"rendered as {who}")
    voc_name = describe_vocoder(v.checkpoint) if v is not None else "none (the baseline makes the audio)"
    log(
        f"{input_path}: {len(perf)} notes, {perf.duration:.1f} s ({rendered.source}{stage1}); "
        f"{instrument}, voice {p_name}, vocoder {voc_name}"
    )
    mel, wav = performance_to_audio(a, v, perf, rendered.tempo_qpm, p_idx, progress)
    write_audio(out, wav, mel_config.sample_rate)
    if mel_png:
        save_mel_with_notes(
            mel,
            perf,
            out.with_suffix(".png"),
            mel_config.frame_seconds,
            title=f"{Path(input_path).name}: predicted mel ({p_name})",
        )
    wall = time.perf_counter() - t0
    seconds = len(wav) / mel_config.sample_rate
    figures = {
        "audio_seconds": seconds,
        "wall_seconds": wall,
        "real_time_factor": wall / max(seconds, 1e-9),
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "performer": p_name,
        "renderer_performer": r_performer,
        "vocoder": voc_name,
    }
    log(
        f"wrote {out}: {seconds:.1f} s of audio in {wall:.1f} s (real-time factor {figures['real_time_factor']:.3f}), "
        f"peak memory {figures['peak_memory_mb']:.0f} MB"
    )
    return figures
