"""Correct rewrites of warmup_cosine (13_learning_rate_schedules): see README.md."""
import numpy as np

# rewrite: torch-recursion-free: the fraction of the way down, then a cosine written with sin^2
import math


def warmup_cosine(t, peak_lr, warmup, total, floor=0.0):
    if t <= warmup:
        return peak_lr * (t / warmup)
    progress = (t - warmup) / (total - warmup)
    return floor + (peak_lr - floor) * math.cos(math.pi * progress / 2) ** 2

# rewrite: one-expression: a clipped warm-up factor times a cosine that is flat at the peak during the warm-up
def warmup_cosine(t, peak_lr, warmup, total, floor=0.0):
    progress = np.clip((t - warmup) / (total - warmup), 0.0, 1.0)
    cosine = floor + (peak_lr - floor) * 0.5 * (1.0 + np.cos(np.pi * progress))
    return float(min(1.0, t / warmup) * cosine) if t <= warmup else float(cosine)
