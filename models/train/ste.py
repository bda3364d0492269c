"""Straight-through estimators: a hard forward, a surrogate gradient backward."""

from __future__ import annotations

import torch


class _SignSTE(torch.autograd.Function):
    """sign with sign(0) = +1 (bit 1 <-> +1); gradient of hardtanh (zero where |x| > 1).
    Written with few full-size temporaries: on CPU these elementwise passes cost as much
    as the convolutions."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x.abs() <= 1)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside


def sign_ste(x: torch.Tensor) -> torch.Tensor:
    return _SignSTE.apply(x)


def weight_sign(w: torch.Tensor) -> torch.Tensor:
    """Binarize latent weights: forward sign (0 -> +1), backward identity (the latent weights
    are clipped to [-1, 1] by the optimizer step instead)."""
    hard = torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))
    return w + (hard - w).detach()


def round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()
