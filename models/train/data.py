"""Dataset tensors and the cheap augmentation used in training (flip + small shifts)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from models.datasets import load_dataset


def load_split(name: str, split: str, subset: int | None, seed: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, H, W) float samples and (N,) labels; `subset` takes a seeded random part."""
    images, labels = load_dataset(name, split)
    if subset is not None and subset < len(images):
        idx = np.sort(np.random.default_rng(seed).permutation(len(images))[:subset])
        images, labels = images[idx], labels[idx]
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return x, torch.from_numpy(labels)


def augment(x: torch.Tensor, gen: torch.Generator, shift: int = 2,
            flip: bool = True) -> torch.Tensor:
    """Random horizontal flip (clothes are symmetric, digits are not: `flip=False`) and a
    random translation of up to `shift` pixels (zero fill), per image. Samples stay integers."""
    n, _, h, w = x.shape
    if flip:
        mirror = torch.rand(n, generator=gen) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :])            # n, h
    cols = (dx[:, None] + torch.arange(w)[None, :])            # n, w
    idx_n = torch.arange(n)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()
