"""PyTorch training of fully-binarized networks (GLT encoder, binary grouped convolutions,
block pruning, SBNN sparse domain, distillation) and their export to a model description.

This is the only package in `models/` that imports torch; the description format and the
golden model never do. Import submodules explicitly (`models.train.network`, ...).
"""
