"""``deepperformer synthesize INPUT -o OUT.wav``: score or performance -> audio, all three stages.

Stage 1 is the deadpan rendering (tempo markings or ``--tempo``, velocities from the dynamics) until
the expressive renderer lands; a performance input (MIDI, match, note CSV) skips it. Stage 2 predicts
the log-mel chunk by chunk and stage 3 vocodes it chunk by chunk, so memory stays flat for whole
movements.

The shipped checkpoints live in the repository's ``checkpoints/`` folder; ``loading.DEFAULTS`` names them per
instrument, and ``--acoustic``/``--vocoder`` override them."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
import torch

from deepperformer.audio.io import limit_peak, require_audio_output, write_audio
from deepperformer.audio.mel import MelConfig
from deepperformer.core.checkpoint import load_checkpoint
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.instruments import check_range
from deepperformer.pipeline.loading import (
    DEFAULTS,
    build_acoustic,
    build_vocoder,
    default_checkpoint,
    load_vocoder,
)
from deepperformer.render.inputs import load_input


def load_pair(instrument: str, acoustic: Path | None, vocoder: Path | None):
    """(acoustic model, its checkpoint, vocoder, its checkpoint), checked against each other."""
    from deepperformer.vocoders.griffin_lim import NAME as GRIFFIN_LIM

    a_path = acoustic or default_checkpoint(instrument, "acoustic")
    v_path = vocoder or default_checkpoint(instrument, "vocoder")
    a_ckpt = load_checkpoint(a_path, "acoustic")
    if str(v_path) == GRIFFIN_LIM:  # made for the acoustic model's own mel configuration
        voc, v_ckpt = load_vocoder(GRIFFIN_LIM, MelConfig.from_dict(a_ckpt["mel_config"]))
    else:
        v_ckpt = load_checkpoint(v_path, "vocoder")
        voc = None
    # the pair first (the clearer message), then the pair against this version's mel definition
    MelConfig.from_dict(a_ckpt["mel_config"]).check_compatible(
        MelConfig.from_dict(v_ckpt["mel_config"]), v_path, f"this vocoder (the acoustic model {a_path.name} uses the other)"
    )
    MelConfig().check_compatible(MelConfig.from_dict(a_ckpt["mel_config"]), a_path, "this checkpoint")
    trained_for = a_ckpt["config"].get("instrument")
    if trained_for != instrument:
        raise DeepPerformerError(a_path, f"is a {trained_for} model, not a {instrument} one (--instrument {trained_for}?)")
    voiced = v_ckpt["config"].get("instrument")  # None: a vocoder shared by every instrument
    if voiced not in (None, instrument):
        raise DeepPerformerError(
            v_path, f"is a vocoder for {voiced}, not for {instrument} (give a {instrument} or shared vocoder)"
        )
    return build_acoustic(a_ckpt), a_ckpt, voc or build_vocoder(v_ckpt), v_ckpt


def performer_index(ckpt: dict, name: str | None, path: str) -> tuple[int, str]:
    vocab = ckpt["performer_vocab"]
    if name is None:
        return 0, vocab[0]
    if name not in vocab:
        raise DeepPerformerError(
            path, f"unknown performer {name!r} (this model knows: {', '.join(vocab)}; see `deepperformer performers`)"
        )
    return vocab.index(name), name


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


def synthesize(
    input_path: Path,
    out: Path,
    instrument: str,
    performer: str | None = None,
    tempo: float | None = None,
    acoustic: Path | None = None,
    vocoder: Path | None = None,
    seed: int = 0,
    mel_png: bool = False,
    unfold: str = "maximal",
    progress: bool = True,
    log=print,
) -> dict:
    """Run the three stages and write ``out`` (.wav or .flac) atomically; -> figures of the run."""
    from deepperformer.acoustic.inference import predict_mel

    require_audio_output(out)
    if instrument not in DEFAULTS:
        raise DeepPerformerError(None, f"--instrument {instrument!r}: expected {' or '.join(DEFAULTS)}")
    t0 = time.perf_counter()
    torch.manual_seed(seed)  # for the stochastic renderer to come; the stages below are deterministic
    np.random.seed(seed)
    rendered = load_input(Path(input_path), tempo, unfold)
    perf = rendered.performance
    check_range(perf, instrument, Path(input_path))
    model, a_ckpt, voc, v_ckpt = load_pair(instrument, acoustic, vocoder)
    p_idx, p_name = performer_index(a_ckpt, performer, acoustic or default_checkpoint(instrument, "acoustic"))
    cond_tempo = conditioning_tempo(model, a_ckpt, rendered.tempo_qpm)
    log(
        f"{input_path}: {len(perf)} notes, {perf.duration:.1f} s ({rendered.source}"
        f"{f', {rendered.tempo_qpm:.0f} qpm' if rendered.source == 'score' else ''}); {instrument}, performer {p_name}"
    )
    mel = predict_mel(model, perf, p_idx, cond_tempo, progress=progress)
    wav = voc.vocode(mel, progress=progress)
    wav = limit_peak(wav)  # never clip: scale the rare loud render down
    write_audio(out, wav, MelConfig().sample_rate)
    if mel_png:
        from deepperformer.core.plots import save_mel_with_notes

        save_mel_with_notes(
            mel,
            perf,
            out.with_suffix(".png"),
            MelConfig().frame_seconds,
            title=f"{Path(input_path).name}: predicted mel ({p_name})",
        )
    wall = time.perf_counter() - t0
    seconds = len(wav) / MelConfig().sample_rate
    figures = {
        "audio_seconds": seconds,
        "wall_seconds": wall,
        "real_time_factor": wall / max(seconds, 1e-9),
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "performer": p_name,
    }
    log(
        f"wrote {out}: {seconds:.1f} s of audio in {wall:.1f} s (real-time factor {figures['real_time_factor']:.3f}), "
        f"peak memory {figures['peak_memory_mb']:.0f} MB"
    )
    return figures
