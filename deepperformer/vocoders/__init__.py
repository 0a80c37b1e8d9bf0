"""Stage 3: vocoders (HiFi-GAN, Vocos, Griffin-Lim) and what runs after them."""

#: Griffin-Lim iterations of the mel-consistency refinement after a neural vocoder
#: (:mod:`deepperformer.vocoders.refine`) unless told otherwise (``--refine N``, ``--no-refine``). Kept
#: here, free of heavy imports, so that the command line can show it.
REFINE_ITERS = 8
#: Share of the vocoder's own (gain-corrected) log magnitude in the refinement's target; the rest is the
#: mel's pseudo-inverse (Griffin-Lim's magnitude). The vocoder's magnitude carries the spurious notes a
#: transcriber hears (re-struck partials at other notes' onsets), its phase the sharp attacks: 0.25 kept
#: both (session 9, three piano test excerpts; checkpoints/README.md).
REFINE_VOCODER_WEIGHT = 0.25
