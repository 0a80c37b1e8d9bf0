"""``deepperformer fit-directions RENDERER.pt --manifest M... -o OUT.pt``: fit the direction classifier
(louder/softer, faster/slower, more/less rubato, legato/staccato) of a trained renderer, and (for a
renderer that plays the pedal) its pedal calibration and (for one with a linear path) the share of its
transformer's residual that is played.

Training exports renderers with these already; this fits them anew for a renderer exported before they
existed, or on other data. The output is the same checkpoint with the directions, the pedal
threshold, the residual share and the global-tempo reference in its configuration and a record of
the fit in its provenance.

``deepperformer fit-tempo RENDERER.pt --manifest M... -o OUT.pt`` fits only the global-tempo reference
(:mod:`deepperformer.render.global_tempo`: how far the training performances stray from the marked
tempo), which needs no rendering and takes seconds once the corpora are read.
"""

from __future__ import annotations

from pathlib import Path

from deepperformer.core.errors import DeepPerformerError


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    fd = sub.add_parser(
        "fit-directions", help="fit a renderer's directions (louder, slower, legato, ...), pedal threshold and residual share"
    )
    fd.add_argument("checkpoint", type=Path, help="an exported renderer checkpoint")
    fd.add_argument("--manifest", type=Path, action="append", required=True, help="its training corpora (repeatable)")
    fd.add_argument("-o", "--out", type=Path, required=True, help="the renderer with directions (may be the input)")
    fd.set_defaults(run=cmd_fit_directions)
    ft = sub.add_parser("fit-tempo", help="fit a renderer's global tempo to the training pianists' (against the marked tempo)")
    ft.add_argument("checkpoint", type=Path, help="an exported renderer checkpoint")
    ft.add_argument("--manifest", type=Path, action="append", required=True, help="its training corpora (repeatable)")
    ft.add_argument("-o", "--out", type=Path, required=True, help="the renderer with its tempo reference (may be the input)")
    ft.set_defaults(run=cmd_fit_tempo)


def print_tempo(config: dict, provenance: dict) -> None:
    """One line on a fitted global-tempo reference (nothing without one)."""
    import numpy as np

    if "tempo_reference" not in config:
        return
    t, v = config["tempo_reference"], provenance["tempo_reference_fit"]["validation"]
    line = (
        f"global tempo: {100 * (np.exp(t['marked']) - 1):+.1f} % from the marked tempo over {t['marked_performances']} training "
        f"performances, {100 * (np.exp(t['unmarked']) - 1):+.1f} % from the default over {t['unmarked_performances']} unmarked"
    )
    if v["performances"]:
        line += f"; validation error {v['error']:.1%} against the marked tempo's {v['marked_error']:.1%}"
        line += f" ({v['performances']} performances)"
    print(line)


def renderer_and_corpora(a) -> tuple:
    """(the loaded renderer, its checkpoint, a copy of its config, the manifests' training and
    validation examples of its instrument) for ``a.checkpoint`` and ``a.manifest``."""
    from deepperformer.pipeline.loading import load_model
    from deepperformer.render.corpus import load_examples

    m = load_model(a.checkpoint, "renderer")
    config = dict(m.checkpoint["config"])
    instrument = config.get("instrument")
    train = load_examples(a.manifest, ("train",), instrument, progress=True)
    held_out = load_examples(a.manifest, ("validation",), instrument)
    return m, m.checkpoint, config, train, held_out


def cmd_fit_tempo(a) -> int:
    from deepperformer.core.checkpoint import export_checkpoint
    from deepperformer.training.fit import file_sha256
    from deepperformer.training.renderer import tempo_calibration

    m, ckpt, config, train, held_out = renderer_and_corpora(a)
    fitted, fit = tempo_calibration(train, held_out)
    if not fitted:
        raise DeepPerformerError(a.checkpoint, "the manifests hold no training performance of this renderer's instrument")
    config |= fitted
    provenance = dict(ckpt["provenance"]) | fit
    provenance["tempo_reference_fit"]["from"] = [{"manifest": str(p), "sha256": file_sha256(p)} for p in a.manifest]
    export_checkpoint(a.out, "renderer", config, m.mel_config, ckpt["performer_vocab"], m.model.state_dict(), provenance)
    print_tempo(config, provenance)
    print(f"wrote {a.out}")
    return 0


def cmd_fit_directions(a) -> int:
    import torch

    from deepperformer.core.checkpoint import export_checkpoint
    from deepperformer.core.performers import PerformerVocab
    from deepperformer.render.targets import TARGETS
    from deepperformer.training.fit import file_sha256
    from deepperformer.training.renderer import (
        calibrate,
        calibrated_config,
        calibrated_provenance,
        renderer_directions,
        tempo_calibration,
    )

    m, ckpt, config, train, held_out = renderer_and_corpora(a)
    names, performers = tuple(config["feature_names"]), PerformerVocab.of(ckpt)
    if not any(ex.performer in performers for ex in train):
        raise DeepPerformerError(a.checkpoint, "none of the manifests' training performers is one of this renderer's")
    # on segments as long as the ones it trained on, as the export's own fit (the CPU recipes: 128 notes)
    segment = int(ckpt["provenance"].get("segment_notes") or 256)
    directions = renderer_directions(m.model, names, performers, train, held_out, segment)
    config["directions"] = directions
    provenance = dict(ckpt["provenance"])
    with torch.no_grad():
        fit = calibrate(m.model, names, performers, held_out)
    pedal, residual, windows = fit["pedal"], fit["residual"], fit["windows"]
    # each fit that applies replaces the export's; one that does not leaves it as it was
    fitted = calibrated_config(fit)
    config |= fitted
    provenance |= calibrated_provenance(fit)
    if fitted:  # the validation figures, as it now plays
        provenance["metrics"] = dict(provenance.get("metrics") or {}) | fit["metrics"]
    tempo_config, tempo_fit = tempo_calibration(train, held_out)
    config |= tempo_config
    provenance |= tempo_fit
    provenance["directions_from"] = [{"manifest": str(p), "sha256": file_sha256(p)} for p in a.manifest]
    export_checkpoint(a.out, "renderer", config, m.mel_config, ckpt["performer_vocab"], m.model.state_dict(), provenance)
    for axis, d in directions.items():
        print(
            f"{axis}: held-out accuracy {d['accuracy']:.3f} over {d['segments']} training segments, step {d['scale']:.3f}, "
            f"{d['method']} direction (measure changes {d['effect']:+.4f} per step)"
        )
    if pedal:
        print(
            f"pedal: threshold {pedal['threshold']:.3f}, so that it pedals {pedal['human_share']:.1%} of the notes as the "
            f"pianists did ({pedal['predicted_share']:.1%} at 0.5) over {pedal['performances']} validation performances"
        )
    if windows:
        print(
            "windows (notes) per target "
            + ", ".join(f"{t} {w}/{o}" for t, (w, o) in zip(TARGETS, windows["windows"]))
            + f" (fitted on {len(held_out)} validation performances)"
        )
    if fit["phases"]:
        print(
            "window grids averaged per target "
            + ", ".join(f"{t} {p}" for t, p in zip(TARGETS, fit["phases"]["phases"]))
            + f" (fitted on {len(held_out)} validation performances)"
        )
    if residual:
        print(
            "residual share (timing targets velocity, log beat period, timing, articulation): "
            + ", ".join(f"{v:g}" for v in residual["scale"][:4])
            + f" (fitted on {len(held_out)} validation performances)"
        )
    print_tempo(config, provenance)
    print(f"wrote {a.out}")
    return 0
