"""``deepperformer train recipes/renderer/*.yaml``: train the expressive renderer (stage 1), then export.

Examples come from prepared aligned corpora (:mod:`deepperformer.render.corpus`), split by piece. The
feature vocabulary (the basis-feature columns of the training scores) and the input/target statistics
are fixed from the training split at the first start and kept in the model, so a resumed run and the
exported checkpoint use exactly the same columns. The exported figures are the renderer table's
Pearson r per feature on the validation performances, for the model (z = 0, each performance's own
performer) and for deadpan beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader, Subset

from deepperformer.audio.mel import MelConfig
from deepperformer.core.atomic import write_text
from deepperformer.core.checkpoint import export_checkpoint, load_checkpoint, total_steps
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performers import PerformerVocab
from deepperformer.render.baselines import BasisRidge, Deadpan, ridge_solve
from deepperformer.render.corpus import load_examples
from deepperformer.render.dataset import NoteSegments, collate_segments
from deepperformer.render.directions import choose_by_effect, fit_directions, segment_codes
from deepperformer.render.global_tempo import fit_tempo_reference, tempo_errors
from deepperformer.render.inference import ExpressiveRenderer
from deepperformer.render.metrics import FEATURES, HUMAN, evaluate_renderers, fit_pedal_threshold, summarize
from deepperformer.render.targets import N_TIMING_TARGETS
from deepperformer.render.task import RendererTask
from deepperformer.training.fit import file_sha256, fit_resumably, init_provenance, load_best
from deepperformer.training.sampling import step_loader


def statistics(ds: NoteSegments) -> dict[str, np.ndarray]:
    """Input, target and global-tempo statistics over the whole training performances."""
    x = np.concatenate([a["x"] for a in ds.arrays])
    y = np.concatenate([a["target"][a["known"]] for a in ds.arrays])
    q = np.log([ex.enc.qpm() for ex in ds.examples])
    # A feature (nearly) constant in training -- a marking no training score has -- keeps its scale: divided
    # by its tiny spread it would be a huge input on the first score that has the marking.
    x_std = x.std(0)
    return dict(
        x_mean=x.mean(0),
        x_std=np.where(x_std < 1e-2, 1.0, x_std),
        y_mean=y.mean(0),
        y_std=y.std(0) + 1e-3,
        qpm_mean=q.mean(),
        qpm_std=q.std() + 1e-3,
    )


def ridge_skip(model, ds: NoteSegments) -> np.ndarray:
    """The basis model's ridge coefficients ``[n_features + 1, n_targets]`` in the model's standardized
    features and targets, from the training performances' performed notes (Renderer.set_skip)."""
    k = model.config.n_targets
    xm, xs = model.x_mean.numpy(), model.x_std.numpy()
    ym, ys = model.y_mean.numpy(), model.y_std.numpy()
    blocks = (((a["x"][a["known"]] - xm) / xs, (a["target"][a["known"], :k] - ym) / ys) for a in ds.arrays)
    return ridge_solve(blocks, BasisRidge().alpha)


def validation_figures(renderer: ExpressiveRenderer, examples) -> dict[str, float]:
    """Mean Pearson r per feature (and tempo error) of the renderer and of deadpan on ``examples``."""
    known = [ex for ex in examples if ex.performer in renderer.performers]
    if not known:
        return {}
    res = summarize(evaluate_renderers([renderer, Deadpan()], known, min_performances=1))
    out = {}
    for system, s in res.items():
        if system == HUMAN:
            continue
        tag = "renderer" if system == renderer.name else system
        out |= {f"validation_{tag}_{f}_r": round(s[f + "_r"], 4) for f in FEATURES}
        out[f"validation_{tag}_tempo_error"] = round(s["tempo_error"], 4)
        if not np.isnan(s.get("pedal_f1", np.nan)):  # the validation performances used the pedal
            out[f"validation_{tag}_pedal_f1"] = round(s["pedal_f1"], 4)
            out[f"validation_{tag}_pedal_r"] = round(s["pedal_r"], 4)
    return out


def pedal_calibration(model, names, performers: PerformerVocab, held_out, windows=None, phases=None) -> dict | None:
    """The base-rate pedal threshold (:func:`~deepperformer.render.metrics.fit_pedal_threshold`) of a
    renderer that learnt the pedal, on held-out (validation) performances; None for one that did not
    learn it or without held-out pedalled notes (it then plays its pedal as predicted)."""
    if not model.config.learn_pedal:
        return None
    fit = fit_pedal_threshold(ExpressiveRenderer(model, names, performers, windows=windows, phases=phases), held_out)
    return fit if fit["human_share"] > 0 else None


#: (window, overlap) in notes a target may be read with; the first is what renderers used before
WINDOW_GRID = ((512, 128), (256, 128), (128, 64), (64, 32))


def best_per_target(model, held_out, candidates, renderer_of) -> tuple[list, dict] | None:
    """Per target, the candidate whose renderer (``renderer_of(candidate)``, every target read with it)
    gives the best mean Pearson r on the held-out (validation) performances: velocity, tempo curve,
    timing and articulation by their own r, both pedal targets by pedal r. Ties keep the earliest
    candidate; a renderer that does not learn velocity, or a target with nothing to choose by, keeps
    the first. -> (the chosen candidate per target, {candidate: {feature: r}}); None without held-out
    performances of its performers."""
    grid = {}
    for c in candidates:
        figures = validation_figures(renderer_of(c), held_out)
        if not figures:
            return None
        grid[c] = {f: figures[f"validation_renderer_{f}_r"] for f in FEATURES}
        if "validation_renderer_pedal_r" in figures:
            grid[c]["pedal"] = figures["validation_renderer_pedal_r"]
    chosen = []
    for k in range(model.config.n_targets):
        feature = FEATURES[k] if k < len(FEATURES) else "pedal"  # FEATURES name TARGETS[:4], column for column
        scores = {c: v[feature] for c, v in grid.items() if not np.isnan(v.get(feature, np.nan))}
        if (feature == "velocity" and not model.config.learn_velocity) or not scores:
            chosen.append(candidates[0])  # not learnt, or nothing to choose by
            continue
        best = max(scores.values())
        chosen.append(next(c for c in candidates if c in scores and scores[c] == best))
    return chosen, grid


def fit_windows(model, names, performers: PerformerVocab, held_out) -> dict | None:
    """Per target, the window (from WINDOW_GRID) that gives the best mean Pearson r on the held-out
    (validation) performances (:func:`best_per_target`). Why: a renderer trained on short segments
    reads some targets better in windows of about that length, others (velocity) with more of the
    piece in view (:mod:`deepperformer.render.inference`). Ties keep the first (the old default). None
    without held-out performances of its performers. -> ``{"windows": [[window, overlap] per target],
    "grid": {"window/overlap": {feature: r}}}``."""
    n = model.config.n_targets
    fit = best_per_target(model, held_out, WINDOW_GRID, lambda wo: ExpressiveRenderer(model, names, performers, windows=[wo] * n))
    if fit is None:
        return None
    chosen, grid = fit
    return {"windows": [list(wo) for wo in chosen], "grid": {f"{w}/{o}": v for (w, o), v in grid.items()}}


#: how many shifted window grids a target may be read as the mean of (render/inference.py); 1: one grid
PHASE_GRID = (1, 2, 4)


def fit_phases(model, names, performers: PerformerVocab, held_out, windows=None) -> dict | None:
    """Per target, the number of shifted window grids (from PHASE_GRID) whose mean gives the best mean
    Pearson r on the held-out (validation) performances (:func:`best_per_target`), each target in its
    own window (``windows``). Ties keep the fewest (the cheapest). None without held-out performances
    of its performers. -> ``{"phases": [n_targets], "grid": {phases: {feature: r}}}``."""
    n = model.config.n_targets
    fit = best_per_target(
        model,
        held_out,
        PHASE_GRID,
        lambda p: ExpressiveRenderer(model, names, performers, windows=windows, phases=[p] * n),
    )
    if fit is None:
        return None
    chosen, grid = fit
    return {"phases": chosen, "grid": {str(p): v for p, v in grid.items()}}


RESIDUAL_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def fit_residual_scale(
    model, names, performers: PerformerVocab, held_out, pedal_threshold: float = 0.5, windows=None, phases=None
) -> dict | None:
    """Per timing target, the share of the transformer's residual over the ridge path (``linear_skip``)
    that gives the best mean Pearson r on the held-out (validation) performances, from RESIDUAL_GRID.

    Why: on a small corpus (the violin's 81 training performances) the transformer's residual adds as
    much noise as signal to the Basis Mixer it starts from, and the renderer ended below the ridge on
    the tempo curve; 0 plays the ridge alone, 1 the model as trained, the fit takes what the held-out
    performances support. One scale is tried for all four targets at a time (a target's r depends
    only on its own column); the pedal columns and, for a renderer that does not learn velocity, the
    velocity column stay at 1. None for a model without the linear path or without held-out
    performances of its performers. Returns ``{"scale": [n_targets], "grid": {λ: {feature: r}}}``.
    """
    if model.skip is None:
        return None
    grid = {}
    for lam in RESIDUAL_GRID:
        scale = [lam] * N_TIMING_TARGETS + [1.0] * (model.config.n_targets - N_TIMING_TARGETS)
        r = ExpressiveRenderer(
            model, names, performers, pedal_threshold=pedal_threshold, residual_scale=scale, windows=windows, phases=phases
        )
        figures = validation_figures(r, held_out)
        if not figures:
            return None
        grid[lam] = {f: figures[f"validation_renderer_{f}_r"] for f in FEATURES}
    scale = [1.0] * model.config.n_targets
    for k, f in enumerate(FEATURES):  # FEATURES name TARGETS[:4], column for column
        if f == "velocity" and not model.config.learn_velocity:
            continue
        scores = {lam: v[f] for lam, v in grid.items() if not np.isnan(v[f])}
        if scores:
            scale[k] = max(scores, key=lambda lam: (scores[lam], lam == 1.0))  # ties: as trained
    return {"scale": scale, "grid": {str(lam): v for lam, v in grid.items()}}


def calibrate(model, names, performers: PerformerVocab, held_out) -> dict:
    """What the export fits on the held-out (validation) performances, in order: the window each target
    is read with (:func:`fit_windows`), how many shifted grids of it (:func:`fit_phases`), the pedal
    threshold (:func:`pedal_calibration`, read so), the residual share (:func:`fit_residual_scale`,
    with all three), then the validation figures of the renderer as it will play with all four.
    -> {"windows", "phases", "pedal", "residual": each fit, None when it does not apply (the renderer
    then plays as trained), "metrics": the figures}."""
    windows = fit_windows(model, names, performers, held_out)
    chosen = windows["windows"] if windows else None
    phases = fit_phases(model, names, performers, held_out, chosen)
    grids = phases["phases"] if phases else None
    pedal = pedal_calibration(model, names, performers, held_out, chosen, grids)
    threshold = pedal["threshold"] if pedal else 0.5
    residual = fit_residual_scale(model, names, performers, held_out, threshold, chosen, grids)
    scale = residual["scale"] if residual else None
    shipped = ExpressiveRenderer(
        model, names, performers, pedal_threshold=threshold, residual_scale=scale, windows=chosen, phases=grids
    )
    fits = {"windows": windows, "phases": phases, "pedal": pedal, "residual": residual}
    return fits | {"metrics": validation_figures(shipped, held_out)}


#: What a renderer plays without each fit (config entries, as load_renderer reads them): one window for
#: all targets, one grid of it, its pedal as predicted, all of the residual
UNCALIBRATED = {"windows": None, "phases": None, "pedal_threshold": 0.5, "residual_scale": None}


def calibrated_config(fit: dict) -> dict:
    """The renderer config entries of the fits of a :func:`calibrate` result that apply."""
    out = {}
    if fit["windows"]:
        out["windows"] = fit["windows"]["windows"]
    if fit["phases"]:
        out["phases"] = fit["phases"]["phases"]
    if fit["pedal"]:
        out["pedal_threshold"] = fit["pedal"]["threshold"]
    if fit["residual"]:
        out["residual_scale"] = fit["residual"]["scale"]
    return out


def calibrated_provenance(fit: dict) -> dict:
    """The provenance entries of the fits of a :func:`calibrate` result that apply (each with its grid)."""
    named = {
        "window_fit": fit["windows"],
        "phase_fit": fit["phases"],
        "pedal_calibration": fit["pedal"],
        "residual_scale_fit": fit["residual"],
    }
    return {k: v for k, v in named.items() if v}


def tempo_calibration(train: list, held_out: list) -> tuple[dict, dict]:
    """(config entries, provenance entries) of the global-tempo reference fitted on ``train``
    (:mod:`deepperformer.render.global_tempo`), with its error on ``held_out``; empty without data."""
    reference = fit_tempo_reference(train)
    if reference is None:
        return {}, {}
    return {"tempo_reference": reference.to_dict()}, {"tempo_reference_fit": {"validation": tempo_errors(reference, held_out)}}


def renderer_directions(model, names, performers: PerformerVocab, train_ex, held_out_ex, segment: int = 256) -> dict:
    """The direction classifier of :mod:`deepperformer.render.directions`, fitted on the training
    performances' segments and scored on the held-out ones."""

    def loader(examples):
        ds = NoteSegments(examples, names, performers, segment, random=False)
        return DataLoader(ds, batch_size=16, collate_fn=collate_segments) if len(ds) else None

    def codes(dl):
        return segment_codes(model, dl) if dl else (np.zeros((0, model.config.latent_dim)), np.zeros((0, 4)))

    skip = () if model.config.learn_velocity else ("dynamics",)
    train_dl, held_out_dl = loader(train_ex), loader(held_out_ex)  # segmented once, for the fit and the check
    train = codes(train_dl)
    directions = fit_directions(train, codes(held_out_dl), skip)
    # checked by decoding, on held-out segments when there are (else training ones): at most 512 segments
    # (every training segment x 64 draws of z would take minutes, and the slope settles long before)
    check = held_out_dl or train_dl
    if check is not None and directions:
        picked = np.unique(np.linspace(0, len(check.dataset) - 1, 512).astype(int))  # spread over the pieces
        check = DataLoader(Subset(check.dataset, picked.tolist()), batch_size=16, collate_fn=collate_segments)
        directions = choose_by_effect(model, check, directions, train[0])
    return directions


def train_renderer(recipe: dict, run_dir: Path, log=print) -> Path:
    import lightning as L

    data, tr, optim = recipe["data"], recipe["trainer"], recipe.get("optim", {})
    manifests = [Path(m) for m in (data["manifests"] if isinstance(data["manifests"], list) else [data["manifests"]])]
    instrument = data.get("instrument")
    L.seed_everything(int(tr.get("seed", 0)), workers=True, verbose=False)
    train_ex = load_examples(manifests, ("train",), instrument, progress=True)
    val_ex = load_examples(manifests, ("validation",), instrument)
    if not train_ex:
        raise DeepPerformerError(manifests[0], f"no {instrument or ''} performances with scores in the training split")
    names = tuple(sorted({n for ex in train_ex for n in ex.score.features.names}))
    # the default performer (played when none is asked for) is the best-represented one, not the first by name
    notes_by: dict[str, int] = {}
    for ex in train_ex:
        notes_by[ex.performer] = notes_by.get(ex.performer, 0) + len(ex.enc.rows)
    performers = PerformerVocab(sorted(notes_by), default=max(sorted(notes_by), key=notes_by.get))
    segment = int(data.get("segment_notes", 256))
    train_set = NoteSegments(train_ex, names, performers, segment, random=True)
    val_set = NoteSegments(val_ex, names, performers, segment, random=False)
    log(
        f"train: {len(train_ex)} performances, validation: {len(val_ex)} ({len(val_set)} segments), "
        f"{len(performers)} performers, {len(names)} score features"
    )

    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "recipe.yaml", yaml.safe_dump(recipe, sort_keys=False))
    try:
        task = RendererTask({**recipe["model"], "n_features": len(names)}, performers.to_list(), **optim)
    except (ValueError, TypeError) as e:
        raise DeepPerformerError(recipe.get("recipe"), f"bad model or optim setting ({e})") from None
    init = recipe.get("init_from")
    source = recipe.get("transfer_from")  # another corpus's renderer to start the transformer from (not with init_from)
    if init and source:
        raise DeepPerformerError(recipe.get("recipe"), "init_from and transfer_from exclude each other: give one")
    init_ckpt = load_checkpoint(Path(init), "renderer") if init else None
    if init_ckpt and not (run_dir / "ckpt" / "last.ckpt").exists():  # going on from exported weights
        old_names = list(init_ckpt["config"]["feature_names"])
        if init_ckpt["performer_vocab"] != performers.to_list():
            raise DeepPerformerError(init, "its performers differ from this recipe's data")
        # statistics included (they are buffers); targets new to this recipe (the pedal) take this data's,
        # and so do score features new to it (they start silent: Renderer.with_new_features)
        stats = statistics(train_set)
        try:
            state = init_ckpt["state_dict"]
            if old_names != list(names):
                state = task.model.with_new_features(state, old_names, list(names), stats["x_mean"], stats["x_std"])
                log(f"score features new to it: {len(set(names) - set(old_names))}, starting at zero")
            task.model.load_earlier(state, stats["y_mean"], stats["y_std"])
        except ValueError as e:
            raise DeepPerformerError(init, str(e)) from None
        log(f"renderer initialised from {init} ({total_steps(init_ckpt['provenance'])} steps in all)")
    elif not (run_dir / "ckpt" / "last.ckpt").exists():  # a resumed run has its statistics in last.ckpt
        stats = statistics(train_set)
        k = task.model.config.n_targets
        task.model.set_statistics(**stats | {"y_mean": stats["y_mean"][:k], "y_std": stats["y_std"][:k]})
        if source:
            src = load_checkpoint(Path(source), "renderer")
            try:
                task.model.transfer_from(src["state_dict"], list(src["config"]["feature_names"]), list(names))
            except ValueError as e:
                raise DeepPerformerError(source, str(e)) from None
            log(f"transformer initialised from {source} ({total_steps(src['provenance'])} steps in all)")
        if task.model.skip is not None:
            task.model.set_skip(ridge_skip(task.model, train_set))
            log("linear path set to the basis ridge of the training notes")
    bs = int(data.get("batch_size", 16))
    workers = int(data.get("num_workers", 0))
    args = dict(batch_size=bs, collate_fn=collate_segments, num_workers=workers, persistent_workers=workers > 0)
    train_loader = step_loader(train_set, bs, int(tr.get("seed", 0)), collate_segments, workers)
    val_loader = DataLoader(val_set, shuffle=False, **args)
    # val/prior: the reconstruction with z = 0, what inference plays by default
    clip = optim.get("grad_clip", 1.0)
    trainer, sec_per_step = fit_resumably(task, train_loader, val_loader, tr, run_dir, clip, log, monitor="val/prior")
    if not trainer.is_global_zero:
        return run_dir / "model.pt"
    exported_step = load_best(task, trainer, tr, run_dir, log)

    model = task.model.cpu().eval()
    with torch.no_grad():
        fit = calibrate(model, names, performers, val_ex)
    metrics = fit["metrics"]
    directions = renderer_directions(model, names, performers, train_ex, val_ex, segment)
    tempo_config, tempo_fit = tempo_calibration(train_ex, val_ex)
    out = run_dir / "model.pt"
    export_checkpoint(
        out,
        "renderer",
        config={
            "model": model.config.to_dict(),
            "feature_names": list(names),
            "instrument": instrument,
            "recipe": recipe.get("recipe", ""),
            "variant": recipe.get("variant", "renderer"),
            "directions": directions,
            "default_performer": performers.default,
            **UNCALIBRATED,
            **calibrated_config(fit),
            **tempo_config,
        },
        mel_config=MelConfig(),  # renderers use no mels; the checkpoint format stores the project's
        performer_vocab=performers.to_list(),
        state_dict=model.state_dict(),
        provenance={
            "data": [{"manifest": str(m), "sha256": file_sha256(m)} for m in manifests],
            "train_performances": len(train_ex),
            "validation_performances": len(val_ex),
            "steps": int(trainer.global_step),
            "exported_step": exported_step,  # the best validation step with trainer.keep_best, else the last
            "batch_size": bs,
            "segment_notes": segment,
            "seconds_per_step": sec_per_step and round(sec_per_step, 4),
            "device": str(trainer.strategy.root_device),
            "metrics": metrics,
            **calibrated_provenance(fit),
            **tempo_fit,
            "licence": recipe.get("licence", ""),
            **init_provenance(init, init_ckpt, exported_step),
            "transfer_from": source,
            "transfer_from_sha256": file_sha256(Path(source)) if source else None,
            "recipe": recipe,
        },
    )
    log(
        f"exported {out}: the weights of step {exported_step} of {trainer.global_step}; validation r "
        + ", ".join(
            f"{f} {metrics.get(f'validation_renderer_{f}_r', float('nan')):.3f} "
            f"(deadpan {metrics.get(f'validation_deadpan_{f}_r', float('nan')):.3f})"
            for f in FEATURES
        )
    )
    return out
