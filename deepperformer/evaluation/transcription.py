"""Piano transcription with Transkun (Yan & Duan), for the note-F1 check of synthesized audio.

Transkun's weights ship inside its wheel (``transkun/pretrained/2.0.pt``), so nothing is downloaded;
they load with ``weights_only=True``. Install it with ``pip install -e '.[eval]'`` (the dev install
includes it). Its model reads 44.1 kHz audio and its mel stops at 8 kHz, the Nyquist frequency of
our 16 kHz audio, so upsampling loses it nothing.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from deepperformer.core.errors import DeepPerformerError

#: mir_eval's default onset tolerance (50 ms), the usual piano-transcription figure.
ONSET_TOLERANCE = 0.05


@functools.lru_cache(maxsize=1)
def load_transkun():
    """Transkun's pretrained model (eval mode, CPU)."""
    try:
        import importlib.resources as ir

        import moduleconf
    except ImportError:
        raise DeepPerformerError(None, "note F1 needs transkun: pip install -e '.[eval]'") from None
    try:
        base = ir.files("transkun") / "pretrained"
    except ModuleNotFoundError:
        raise DeepPerformerError(None, "note F1 needs transkun: pip install -e '.[eval]'") from None
    conf = moduleconf.parseFromFile(str(base / "2.0.conf"))["Model"]
    model = conf.module.TransKun(conf=conf.config)
    ckpt = torch.load(str(base / "2.0.pt"), map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt.get("best_state_dict", ckpt["state_dict"]))
    return model.eval()


@torch.no_grad()
def transcribe(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Notes ``[N, 3]`` (onset s, offset s, MIDI pitch) of mono audio ``[S]``; pedal events dropped."""
    import torchaudio

    model = load_transkun()
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if sample_rate != model.fs:
        x = torchaudio.functional.resample(x, sample_rate, model.fs)
    notes = model.transcribe(x[:, None])  # [S, channels]
    rows = [(n.start, n.end, n.pitch) for n in notes if n.pitch > 0]  # pitch <= 0: pedal events
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def onset_f1(reference: np.ndarray, estimate: np.ndarray, tolerance: float = ONSET_TOLERANCE) -> dict:
    """mir_eval note precision/recall/F1 on onsets (offsets ignored); both ``[N, 3]`` (on, off, pitch)."""
    import mir_eval

    if len(reference) == 0 or len(estimate) == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}

    def intervals(a):
        on, off = a[:, 0], np.maximum(a[:, 1], a[:, 0] + 1e-3)  # mir_eval wants positive durations
        return np.stack([on, off], 1)

    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        intervals(reference),
        mir_eval.util.midi_to_hz(reference[:, 2]),
        intervals(estimate),
        mir_eval.util.midi_to_hz(estimate[:, 2]),
        onset_tolerance=tolerance,
        offset_ratio=None,
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f)}
