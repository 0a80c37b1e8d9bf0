"""The expressive renderer: a transformer over a score's notes with a performer embedding and a style
latent (a conditional VAE, after VirtuosoNet and the NIME 2023 co-creation system).

For every note it predicts the targets of :data:`deepperformer.render.targets.TARGETS` (velocity,
log beat-period ratio, timing, articulation; with ``learn_pedal`` also the sustain pedal's two), and
for the piece its global tempo (log quarters per minute). Inputs are the score's basis features
(:mod:`deepperformer.core.score_features`) in the column order the checkpoint stores, standardized by
statistics the model keeps as buffers, so a checkpoint carries everything inference needs.

- Notes are ordered by score onset, then pitch; position is a sinusoidal code of the score onset in
  quarters (relative to the segment's first note), so chords share a position.
- The style latent ``z`` (``latent_dim``) is inferred from a human performance in training (the
  posterior sees the targets) and drawn from N(0, I) at inference: sampling gives varied, plausible
  performances, ``z = 0`` the most typical one, a seed fixes one.
- ``window_notes`` > 0 limits attention to that many notes on each side, so a whole movement renders
  in windows with flat memory and the same result inside each window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from deepperformer.core.configs import ConfigMixin
from deepperformer.networks.performer import embed_performers
from deepperformer.render.targets import N_TIMING_TARGETS, TARGETS


@dataclass
class RendererConfig(ConfigMixin):
    n_features: int = 1
    d_model: int = 128
    n_heads: int = 4
    layers: int = 4
    ffn: int = 256
    dropout: float = 0.1
    n_performers: int = 1
    latent_dim: int = 16
    window_notes: int = 0  # attention reach on each side (0: the whole segment)
    # The posterior also sees the performance's global tempo. Without it the targets carry only the
    # tempo curve's shape (beat periods relative to the global one), so z cannot hold "a fast
    # performance" and no "faster" direction can be found in it. False in checkpoints made before.
    posterior_tempo: bool = False
    # False for corpora without dynamics (the Bach Violin Dataset's notes all have velocity 64): the
    # velocity is then not learnt, and renderings take the score's (deadpan's, from the markings).
    learn_velocity: bool = True
    # Also predict the sustain pedal (pedal_down, pedal_change per note: render/pedal.py), for piano
    # corpora whose performances carry controller 64. False in checkpoints made before.
    learn_pedal: bool = False
    # A linear path from the standardized features straight to the targets, beside the transformer,
    # set at the first start to the ridge solution of the training notes (render/baselines.py's basis
    # model) while the transformer's output starts at zero: the model starts as the Basis Mixer and
    # learns what it misses. On a small corpus (the Bach Violin Dataset's 81 training performances) the
    # transformer alone never caught up with the ridge. False in checkpoints made before.
    linear_skip: bool = False
    # Keep that linear path at the ridge solution for good (no gradient, no weight decay): the
    # transformer then only adds a residual to the Basis Mixer. Trained freely, the path drifted off
    # the ridge (weight decay alone pulls it towards zero) and the violin renderer ended below the
    # ridge it started from. False in checkpoints made before.
    freeze_skip: bool = False
    # Beat and bar levels above the notes (VirtuosoNet's hierarchy, as the issue asks): after the note
    # transformer, the notes of each beat are pooled, a transformer layer runs over the beats, and its
    # output returns to their notes; then the same over bars. A tempo curve is shaped by phrases and
    # bars more than by single notes. The way back starts at zero, so a renderer without it goes on
    # from its weights unchanged. False in checkpoints made before.
    hierarchy: bool = False

    @property
    def n_targets(self) -> int:
        """How many of TARGETS the model predicts (the first ones)."""
        return len(TARGETS) if self.learn_pedal else N_TIMING_TARGETS

    def validate(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")
        if self.n_features < 1 or self.latent_dim < 1:
            raise ValueError("n_features and latent_dim must be at least 1")
        if self.freeze_skip and not self.linear_skip:
            raise ValueError("freeze_skip needs linear_skip (there is no linear path to freeze)")


def onset_code(onset: torch.Tensor, d: int) -> torch.Tensor:
    """Sinusoidal code ``[B, N, d]`` of score onsets ``[B, N]`` in quarters (periods from 1/16 of a
    quarter to about 4000 quarters)."""
    half = d // 2
    freqs = torch.exp(-math.log(4096.0) * torch.arange(half, device=onset.device, dtype=torch.float32) / half) * 16 * math.pi
    ang = onset.float()[..., None] * freqs
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


def _window_mask(n: int, window: int, device) -> torch.Tensor | None:
    if window <= 0:
        return None
    i = torch.arange(n, device=device)
    return (i[None] - i[:, None]).abs() > window  # True = may not attend


class GroupLevel(nn.Module):
    """One level of the hierarchy: note states ``[B, N, d]`` -> the mean of each group's notes (``ids``
    ``[B, N]``, 0.. per row; padded notes masked out) -> one transformer layer over the groups (their
    mean score onset coded as position) -> added back to every note of the group through a projection
    that starts at zero."""

    def __init__(self, d: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d, heads, ffn, dropout, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.back = nn.Linear(d, d)
        nn.init.zeros_(self.back.weight)
        nn.init.zeros_(self.back.bias)

    def forward(self, h: torch.Tensor, onset: torch.Tensor, mask: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        b, n, d = h.shape
        ids = ids.masked_fill(~mask, 0)
        g = int(ids.max()) + 1 if n else 1
        w = mask.to(h.dtype)[..., None]
        sums = h.new_zeros(b, g, d).scatter_add_(1, ids[..., None].expand(-1, -1, d), h * w)
        counts = h.new_zeros(b, g, 1).scatter_add_(1, ids[..., None], w)
        at = h.new_zeros(b, g, 1).scatter_add_(1, ids[..., None], onset[..., None].to(h.dtype) * w)
        gmask = counts[..., 0] > 0
        groups = sums / counts.clamp(min=1) + onset_code(at[..., 0] / counts[..., 0].clamp(min=1), d).to(h.dtype)
        groups = self.body(groups, src_key_padding_mask=~gmask)
        return h + self.back(torch.gather(groups, 1, ids[..., None].expand(-1, -1, d)))


class Renderer(nn.Module):
    """``forward(x [B, N, F], onset [B, N], mask [B, N] bool, performer [B], z [B, L], levels [B, N, 2] long
    or None)`` -> (targets ``[B, N, config.n_targets]`` standardized, log-qpm ``[B]`` standardized);
    ``levels`` (each note's beat and bar, from 0 in every row) is needed with ``config.hierarchy``.

    >>> m = Renderer(RendererConfig(n_features=5, d_model=16, n_heads=2, layers=1, ffn=32, latent_dim=4))
    >>> x, onset, mask = torch.zeros(2, 7, 5), torch.arange(7.0).repeat(2, 1), torch.ones(2, 7, dtype=torch.bool)
    >>> y, q = m(x, onset, mask, torch.tensor([0, 0]), torch.zeros(2, 4))
    >>> y.shape, q.shape
    (torch.Size([2, 7, 4]), torch.Size([2]))
    """

    def __init__(self, config: RendererConfig | None = None):
        super().__init__()
        config = config if config is not None else RendererConfig()  # a fresh default: configs are mutable
        c = self.config = config
        # standardization of inputs and targets, set from the training data (set_statistics)
        self.register_buffer("x_mean", torch.zeros(c.n_features))
        self.register_buffer("x_std", torch.ones(c.n_features))
        self.register_buffer("y_mean", torch.zeros(c.n_targets))
        self.register_buffer("y_std", torch.ones(c.n_targets))
        self.register_buffer("qpm_mean", torch.zeros(()))  # of log qpm
        self.register_buffer("qpm_std", torch.ones(()))
        self.inp = nn.Linear(c.n_features, c.d_model)
        self.performer_emb = nn.Embedding(max(1, c.n_performers), c.d_model)
        self.latent = nn.Linear(c.latent_dim, c.d_model)
        layer = nn.TransformerEncoderLayer(c.d_model, c.n_heads, c.ffn, c.dropout, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        self.out = nn.Linear(c.d_model, c.n_targets)
        self.tempo = nn.Linear(c.d_model, 1)
        # beat, then bar (dataset.note_levels' columns)
        self.levels = (
            nn.ModuleList([GroupLevel(c.d_model, c.n_heads, c.ffn, c.dropout) for _ in range(2)]) if c.hierarchy else None
        )
        self.skip = nn.Linear(c.n_features, c.n_targets) if c.linear_skip else None
        if self.skip is not None and c.freeze_skip:
            self.skip.requires_grad_(False)  # optimizers skip parameters that get no gradient
        # the posterior q(z | score, performance): its own smaller encoder over features + targets
        post = nn.TransformerEncoderLayer(c.d_model, c.n_heads, c.ffn, c.dropout, batch_first=True, norm_first=True)
        self.post_inp = nn.Linear(c.n_features + c.n_targets + int(c.posterior_tempo), c.d_model)
        self.post_body = nn.TransformerEncoder(post, max(1, c.layers // 2), enable_nested_tensor=False)
        self.post_out = nn.Linear(c.d_model, 2 * c.latent_dim)

    @staticmethod
    def with_new_features(state: dict, old_names: list[str], names: list[str], x_mean, x_std) -> dict:
        """``state`` of a renderer trained on score features ``old_names``, widened to ``names`` (which hold
        them all, in any order): a new feature's input columns (of the notes' input, the posterior's and
        the linear path's) start at zero, so the model starts out as it was, and its statistics come from
        ``x_mean`` / ``x_std`` ``[len(names)]`` (this run's data); the old ones keep theirs."""
        missing = sorted(set(old_names) - set(names))
        if missing:
            raise ValueError(f"score features it was trained on that this data lacks: {', '.join(missing[:3])}")
        state, at = dict(state), {n: i for i, n in enumerate(old_names)}
        n_old = len(old_names)

        def widened(w: torch.Tensor) -> torch.Tensor:  # [d, n_old + rest] -> [d, len(names) + rest]
            cols = torch.zeros(w.shape[0], len(names), dtype=w.dtype)
            for j, n in enumerate(names):
                if n in at:
                    cols[:, j] = w[:, at[n]]
            return torch.cat([cols, w[:, n_old:]], 1)

        for key in ("inp.weight", "post_inp.weight", "skip.weight"):
            if key in state:
                state[key] = widened(state[key])
        for key, fresh in (("x_mean", x_mean), ("x_std", x_std)):
            fresh = torch.as_tensor(fresh, dtype=torch.float32)
            state[key] = torch.stack([state[key][at[n]].float() if n in at else fresh[j] for j, n in enumerate(names)])
        return state

    def load_earlier(self, state: dict, y_mean=None, y_std=None) -> None:
        """Load weights of an earlier renderer into this one, whose config may add to it:
        ``posterior_tempo`` (the tempo's input column of the posterior starts at zero) and ``learn_pedal``
        (the pedal's output rows and posterior input columns start at zero, and their statistics come
        from ``y_mean`` / ``y_std`` ``[n_targets]`` of this run's data). Each new part starts out silent,
        so the model starts out as it was and learns to use it."""
        state = dict(state)
        c, n_old = self.config, state["out.weight"].shape[0]
        if (self.skip is not None) != ("skip.weight" in state):
            raise ValueError("its linear path (linear_skip) differs from this recipe's: train this one from the start")
        n_new = c.n_targets - n_old
        if n_new > 0:  # the pedal targets: output rows (of the linear path too) and the posterior's target columns
            for layer in ("out", "skip") if self.skip is not None else ("out",):
                w, b = state[f"{layer}.weight"], state[f"{layer}.bias"]
                state[f"{layer}.weight"] = torch.cat([w, torch.zeros(n_new, w.shape[1], dtype=w.dtype)])
                state[f"{layer}.bias"] = torch.cat([b, torch.zeros(n_new, dtype=b.dtype)])
            if y_mean is None or y_std is None:
                raise ValueError("the new targets need their statistics (y_mean, y_std)")
            state["y_mean"] = torch.cat([state["y_mean"], torch.as_tensor(y_mean, dtype=torch.float32)[n_old:]])
            state["y_std"] = torch.cat([state["y_std"], torch.as_tensor(y_std, dtype=torch.float32)[n_old:]])
        w = state["post_inp.weight"]
        cut = c.n_features + n_old  # the posterior's columns: features, targets, [tempo]
        extra = w.shape[1] - cut
        parts = [w[:, :cut], torch.zeros(w.shape[0], max(0, n_new), dtype=w.dtype)]
        if c.posterior_tempo:
            parts.append(w[:, cut:] if extra else torch.zeros(w.shape[0], 1, dtype=w.dtype))
        state["post_inp.weight"] = torch.cat(parts, 1)
        has_levels = any(k.startswith("levels.") for k in state)
        if has_levels and self.levels is None:
            raise ValueError("it has beat and bar levels (hierarchy) and this recipe has not: set model.hierarchy=true")
        if self.levels is not None and not has_levels:
            # the beat and bar levels are new: they start as built, their way back at zero
            state.update({k: v for k, v in self.state_dict().items() if k.startswith("levels.")})
        self.load_state_dict(state)

    def transfer_from(self, state: dict, source_names: list[str], names: list[str]) -> None:
        """Start from another corpus's renderer (``state``, trained on score features ``source_names``):
        the piano renderer's transformer for the violin one, whose 81 training performances are too few
        for a transformer from scratch. Call after :meth:`set_statistics` (this run's data).

        - The transformers (notes, beat and bar levels where both have them, posterior), the style
          projection and the tempo head are copied.
        - The input layers are mapped by feature name (``names`` must all be in ``source_names``) and
          rescaled so that a raw feature value reaches the first layer as it did there, through this
          model's own standardization; the posterior's target and tempo columns likewise.
        - Every performer starts at the mean of the source's performer embeddings (none is shared).
        - The output layer starts at zero when this model has a linear path (it starts as the ridge,
          :meth:`set_skip`), else from the source's rows of the targets both predict.
        """
        missing = sorted(set(names) - set(source_names))
        if missing:
            raise ValueError(f"score features it was not trained on: {', '.join(missing[:3])}")
        mine = self.state_dict()
        prefixes = ("body.", "post_body.", "latent.", "post_out.", "tempo.") + (("levels.",) if self.levels is not None else ())
        copied = {k for k in mine if k.startswith(prefixes)}
        if copied - set(state) or {k for k in state if k.startswith(("body.", "post_body."))} - copied:
            raise ValueError("its number of layers differs from this recipe's")
        if any(state[k].shape != mine[k].shape for k in copied):
            raise ValueError("its transformer sizes (d_model, ffn, latent_dim) differ from this recipe's")
        new = dict(mine) | {k: state[k].float() for k in copied}

        def mapped(w, b, old_mean, old_std, new_mean, new_std):
            """Columns ``w [d, k]`` fed (x - old_mean) / old_std -> the same response to x fed
            (x - new_mean) / new_std: w * new_std / old_std, the bias shifted by the means' offset."""
            old_mean, old_std, new_mean, new_std = (torch.atleast_1d(t.float()) for t in (old_mean, old_std, new_mean, new_std))
            return w * (new_std / old_std), b + w @ ((new_mean - old_mean) / old_std)

        idx = torch.tensor([source_names.index(n) for n in names])
        xs = (state["x_mean"][idx].float(), state["x_std"][idx].float(), self.x_mean, self.x_std)
        new["inp.weight"], new["inp.bias"] = mapped(state["inp.weight"].float()[:, idx], state["inp.bias"].float(), *xs)
        w, b = state["post_inp.weight"].float(), state["post_inp.bias"].float()
        n_src_f, k = len(source_names), min(self.config.n_targets, state["y_mean"].shape[0])
        wx, b = mapped(w[:, idx], b, *xs)
        wy, b = mapped(
            w[:, n_src_f : n_src_f + k],
            b,
            state["y_mean"][:k].float(),
            state["y_std"][:k].float(),
            self.y_mean[:k],
            self.y_std[:k],
        )
        post = torch.zeros_like(mine["post_inp.weight"])
        c = self.config.n_features
        post[:, :c], post[:, c : c + k] = wx, wy
        if self.config.posterior_tempo and w.shape[1] > n_src_f + state["y_mean"].shape[0]:
            wq, b = mapped(w[:, -1:], b, state["qpm_mean"].float(), state["qpm_std"].float(), self.qpm_mean, self.qpm_std)
            post[:, -1:] = wq
        new["post_inp.weight"], new["post_inp.bias"] = post, b
        new["performer_emb.weight"] = (
            state["performer_emb.weight"].float().mean(0, keepdim=True).expand_as(mine["performer_emb.weight"]).clone()
        )
        if self.skip is None:
            new["out.weight"][:k], new["out.bias"][:k] = state["out.weight"][:k].float(), state["out.bias"][:k].float()
        else:
            new["out.weight"], new["out.bias"] = torch.zeros_like(mine["out.weight"]), torch.zeros_like(mine["out.bias"])
        self.load_state_dict(new)

    def set_statistics(self, x_mean, x_std, y_mean, y_std, qpm_mean, qpm_std) -> None:
        for name, v in dict(x_mean=x_mean, x_std=x_std, y_mean=y_mean, y_std=y_std, qpm_mean=qpm_mean, qpm_std=qpm_std).items():
            getattr(self, name).copy_(torch.as_tensor(v, dtype=torch.float32))

    def standardize(self, target: torch.Tensor) -> torch.Tensor:
        """Raw targets ``[..., len(TARGETS)]`` (the batches carry all of them) -> the ones this model
        predicts, standardized ``[..., n_targets]``."""
        return (target[..., : self.config.n_targets] - self.y_mean) / self.y_std

    def set_skip(self, coef) -> None:
        """Set the linear path from ridge coefficients ``[n_features + 1, n_targets]`` (standardized
        features and targets; last row the intercept) and silence the transformer's output layer, so the
        model predicts exactly the ridge's targets until training moves it."""
        coef = torch.as_tensor(coef, dtype=torch.float32)
        with torch.no_grad():
            self.skip.weight.copy_(coef[:-1].T)
            self.skip.bias.copy_(coef[-1])
            self.out.weight.zero_()
            self.out.bias.zero_()

    def forward(self, x, onset, mask, performer, z, levels=None, residual_scale=None):
        """(standardized targets ``[B, N, n_targets]``, standardized log qpm ``[B]``). With a linear path,
        ``residual_scale`` ``[n_targets]`` (None: 1) scales the transformer's part of each target before
        the ridge path is added: 0 plays the Basis Mixer alone, 1 the model as trained (see
        :func:`deepperformer.training.renderer.fit_residual_scale`)."""
        xs = (x - self.x_mean) / self.x_std
        rel = onset - onset[:, :1]
        h = self.inp(xs) + onset_code(rel, self.config.d_model)
        h = h + (embed_performers(self.performer_emb, performer) + self.latent(z))[:, None]
        h = self.body(h, mask=_window_mask(h.shape[1], self.config.window_notes, h.device), src_key_padding_mask=~mask)
        if self.levels is not None:
            if levels is None:
                raise ValueError("this renderer has beat and bar levels: pass levels [B, N, 2] (dataset.note_levels)")
            for k, level in enumerate(self.levels):
                h = level(h, rel, mask, levels[..., k])
        m = mask[..., None].to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)
        y = self.out(h)
        if residual_scale is not None:
            y = y * torch.as_tensor(residual_scale, dtype=y.dtype, device=y.device)
        if self.skip is not None:
            y = y + self.skip(xs)
        return y, self.tempo(pooled)[:, 0]

    def posterior(self, x, onset, mask, y_std_targets, log_qpm=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log variance) ``[B, L]`` of q(z | score, standardized targets ``[B, N, n_targets]``, and the
        global tempo ``log_qpm`` ``[B]`` (raw log qpm) when the config has ``posterior_tempo``)."""
        parts = [(x - self.x_mean) / self.x_std, y_std_targets]
        if self.config.posterior_tempo:
            q = (log_qpm - self.qpm_mean) / self.qpm_std
            parts.append(q[:, None, None].expand(-1, x.shape[1], 1).to(x.dtype))
        xs = torch.cat(parts, dim=-1)
        h = self.post_inp(xs) + onset_code(onset - onset[:, :1], self.config.d_model)
        h = self.post_body(h, src_key_padding_mask=~mask)
        m = mask[..., None].to(h.dtype)
        mu, logvar = self.post_out((h * m).sum(1) / m.sum(1).clamp(min=1)).chunk(2, dim=-1)
        return mu, logvar.clamp(-8, 8)
