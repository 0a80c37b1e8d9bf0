"""Stage 3: vocoders (HiFi-GAN, Vocos, Griffin-Lim) and what runs after them."""

#: Griffin-Lim iterations of the mel-consistency refinement after a neural vocoder
#: (:mod:`deepperformer.vocoders.refine`) unless told otherwise (``--refine N``, ``--no-refine``). Kept
#: here, free of heavy imports, so that the command line can show it.
REFINE_ITERS = 8
