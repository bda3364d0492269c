"""Knowledge distillation: a real-valued teacher CNN and the KD loss (Hinton et al. 2015)."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class Teacher(nn.Module):
    """A small real-valued CNN (VGG-like, three conv blocks) on samples scaled to [0, 1]."""

    def __init__(self, channels: int = 1, classes: int = 10, width: int = 64, bits: int = 8,
                 side: int = 28):
        super().__init__()
        self.scale = 1.0 / ((1 << bits) - 1)
        layers, c = [], channels
        for out in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = out
            side //= 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3),
                                        nn.Linear(c * side * side, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x * self.scale))


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor,
            temperature: float, alpha: float) -> torch.Tensor:
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels)."""
    t = temperature
    kl = F.kl_div(F.log_softmax(student / t, dim=1), F.log_softmax(teacher / t, dim=1),
                  reduction="batchmean", log_target=True)
    return alpha * t * t * kl + (1 - alpha) * F.cross_entropy(student, labels)
