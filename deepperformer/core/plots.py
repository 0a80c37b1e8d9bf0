"""Figures people would rather look at than numbers: piano rolls (and, later, mel spectrograms)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepperformer.core.atomic import atomic_path
from deepperformer.core.performance import Performance


def _draw_roll(ax, perf: Performance):
    from matplotlib.collections import PolyCollection

    n = perf.notes
    verts = [
        [(o, p - 0.4), (o + d, p - 0.4), (o + d, p + 0.4), (o, p + 0.4)]
        for o, d, p in zip(n["onset_sec"], n["duration_sec"], n["pitch"])
    ]
    coll = PolyCollection(verts, array=n["velocity"].astype(float), cmap="viridis", clim=(1, 127))
    ax.add_collection(coll)
    # the sustain pedal: grey where it is down (a rendering's decoded pedal, or a recording's controller 64)
    t, down = perf.pedal["time_sec"], perf.pedal_down()
    releases = np.flatnonzero(~down)
    for k in np.flatnonzero(down & ~np.r_[False, down[:-1]]):  # each press, to the next release
        j = np.searchsorted(releases, k)
        ax.axvspan(t[k], t[releases[j]] if j < len(releases) else max(perf.duration, t[k]), color="0.9", lw=0, zorder=0)
    ax.set_xlim(0, max(perf.duration, 1e-3))
    ax.set_ylim(n["pitch"].min() - 2, n["pitch"].max() + 2)
    ax.set_ylabel("MIDI pitch")
    return coll


def save_piano_roll(
    perf: Performance,
    path: str | Path,
    title: str = "",
    tempo: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    velocity: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    """Piano roll of a performance (time in seconds x MIDI pitch, colour = velocity) as a PNG.

    ``tempo``: tempo curves to draw below it, {label: (time in seconds [K], quarters per minute [K])}
    (a rendering's and a human performance's), with note velocities under them: ``velocity``
    {label: (onset seconds [M], velocity [M])}, by default the performance's own."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = max(6.0, min(24.0, perf.duration / 4))
    if tempo:
        fig, (ax, ax_t, ax_v) = plt.subplots(
            3, 1, figsize=(width, 8), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 2, 1.5]}
        )
    else:
        fig, ax = plt.subplots(figsize=(width, 4), dpi=100)
    coll = _draw_roll(ax, perf)
    ax.set_title(title or Path(perf.source).name)
    fig.colorbar(coll, ax=ax, label="velocity", pad=0.01)
    if tempo:
        for label, (t, qpm) in tempo.items():
            ax_t.plot(t, qpm, lw=1, label=label)
        ax_t.set_ylabel("tempo (qpm)")
        ax_t.legend(loc="upper right", fontsize=8)
        for label, (t, v) in (velocity or {"": (perf.notes["onset_sec"], perf.notes["velocity"])}).items():
            ax_v.scatter(t, v, s=2, label=label or None)
        if velocity and len(velocity) > 1:
            ax_v.legend(loc="upper right", fontsize=8, markerscale=3)
        ax_v.set_ylabel("velocity")
        ax_v.set_xlabel("time (s)")
    else:
        ax.set_xlabel("time (s)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def save_mel_with_notes(mel: np.ndarray, perf: Performance, path: str | Path, frame_seconds: float, title: str = "") -> None:
    """A log-mel spectrogram ``[T, n_mels]`` above the piano roll of the notes sounding in it, sharing
    the time axis: the quickest way to see whether notes and audio are aligned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = mel.shape[0] * frame_seconds
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 6), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    a1.imshow(mel.T.astype(np.float32), origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, mel.shape[1]))
    a1.set_ylabel("mel bin")
    a1.set_title(title)
    n = perf.notes
    for o, d, p in zip(n["onset_sec"], n["duration_sec"], n["pitch"]):
        a2.broken_barh([(o, d)], (p - 0.4, 0.8), color="tab:blue")
        a1.axvline(o, color="white", lw=0.4, alpha=0.5)
    if len(n):
        a2.set_ylim(n["pitch"].min() - 2, n["pitch"].max() + 2)
    a2.set_xlim(0, seconds)
    a2.set_xlabel("time (s)")
    a2.set_ylabel("MIDI pitch")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def save_mel_comparison(
    target: np.ndarray,
    predicted: np.ndarray,
    path: str | Path,
    title: str = "",
    labels: tuple[str, str] = ("target", "predicted"),
) -> None:
    """Target above predicted log-mel (``[T, n_mels]`` each), same colour scale, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = float(min(target.min(), predicted.min())), float(max(target.max(), predicted.max()))
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), dpi=100, sharex=True)
    for ax, m, name in zip(axes, (target, predicted), labels):
        im = ax.imshow(m.T, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi)
        ax.set_ylabel(f"{name}\nmel bin")
    axes[0].set_title(title)
    axes[1].set_xlabel("frame")
    fig.colorbar(im, ax=axes, label="log-mel", pad=0.01)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
