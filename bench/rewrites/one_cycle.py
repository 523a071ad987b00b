"""Correct rewrites of one_cycle (13_learning_rate_schedules): see README.md."""
# rewrite: named-anneal: a helper for torch's cosine annealing, phases chosen by torch's step
import math


def one_cycle(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    def anneal(start, end, fraction):
        return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1.0)

    initial = max_lr / div_factor
    rise_end = float(pct_start * total) - 1.0
    step = t - 1
    if step > rise_end:
        return anneal(max_lr, initial / final_div_factor, (step - rise_end) / (total - 1 - rise_end))
    return anneal(initial, max_lr, step / rise_end)

# rewrite: phase-table: torch's two phases as (end step, start lr, end lr) rows, searched in order
import math


def one_cycle(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    initial = max_lr / div_factor
    phases = [(pct_start * total - 1, initial, max_lr), (total - 1, max_lr, initial / final_div_factor)]
    step, begin = t - 1, 0.0
    for end_step, start_lr, end_lr in phases:
        if step <= end_step or end_step == total - 1:
            fraction = (step - begin) / (end_step - begin)
            return end_lr + (start_lr - end_lr) * (1 + math.cos(math.pi * fraction)) / 2
        begin = end_step
    raise AssertionError("unreachable: the last phase ends at the last step")
