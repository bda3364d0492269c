"""Block pruning of binary convolutions.

A *block* is one output channel's full kernel (kh x kw) over `block_channels` consecutive
input channels of its group: block_channels = 1 gives kernel slices (kh*kw weights, the
granularity of the description's mask and of a missing XNOR-popcount input in hardware);
block_channels = C_in/groups gives a whole group connection of one output channel.

Importance: the mean |latent weight| of the block (latent weights near zero are the ones
whose sign flips most easily, i.e. carry the least learned evidence). Schedule: the cubic
gradual schedule of Zhu & Gupta (2017): sparsity s(t) = s_f (1 - (1 - t/T)^3) over the
pruning steps, masks recomputed every `every` steps, then fine-tuning with masks frozen.
"""

from __future__ import annotations

import torch

from models.errors import UserError

from .layers import BinaryConv


def block_scores(conv: BinaryConv, block_channels: int) -> torch.Tensor:
    """(O, n_blocks) importance of every block."""
    o, cg, kh, kw = conv.weight.shape
    if cg % block_channels:
        raise UserError(f"prune.block_channels {block_channels} does not divide the "
                        f"{cg} input channels per group of a layer")
    w = conv.weight.detach().abs().reshape(o, cg // block_channels, 1,
                                           block_channels, kh, kw)
    return w.mean(dim=(2, 3, 4, 5))


def set_mask(conv: BinaryConv, sparsity: float, block_channels: int) -> None:
    """Keep the most important blocks of the layer, pruning a `sparsity` fraction."""
    scores = block_scores(conv, block_channels)
    n = scores.numel()
    k = int(round(sparsity * n))
    keep = torch.ones(n)
    if k > 0:
        order = torch.argsort(scores.flatten(), stable=True)
        keep[order[:k]] = 0
    o, cg, kh, kw = conv.weight.shape
    keep = keep.reshape(o, cg // block_channels, 1, 1, 1).expand(
        o, cg // block_channels, block_channels, kh, kw)
    conv.mask.copy_(keep.reshape(o, cg, kh, kw))


def cubic(step: int, total: int, final: float) -> float:
    """Sparsity at `step` of a gradual schedule over `total` steps ending at `final`."""
    if total <= 0 or step >= total:
        return final
    return final * (1 - (1 - step / total) ** 3)


class Pruner:
    """Drives the masks of the selected layers along the schedule."""

    def __init__(self, convs: list[BinaryConv], sparsity: float, block_channels: int,
                 total_steps: int, every: int = 50):
        bad = [c for c in convs if c.domain != "bipolar"]
        if bad:
            raise UserError("block pruning applies to bipolar layers only")
        self.convs, self.sparsity, self.block = convs, sparsity, block_channels
        self.total, self.every = total_steps, every
        for conv in convs:
            block_scores(conv, block_channels)  # validates block_channels early

    def step(self, step: int) -> None:
        if step > self.total or (step % self.every and step != self.total):
            return  # between updates, or masks frozen for fine-tuning
        s = cubic(step, self.total, self.sparsity)
        for conv in self.convs:
            set_mask(conv, s, self.block)
