"""Training side of rtsynth: corpora, preprocessing, dataset cache, models, trainer, evaluation.

Modules import torch only where they need it, so the data commands run without it.
"""
