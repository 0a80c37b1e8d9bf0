"""deepperformer: score-to-audio music performance synthesis.

Three stages run in sequence: an expressive renderer (score -> timed notes), an acoustic model
(timed notes -> log-mel spectrogram) and a HiFi-GAN vocoder (log-mel -> waveform). This package holds
the shared ground floor (scores, performances, audio, dataset preparation) and the stages built on it.
"""

__version__ = "0.1.0"
