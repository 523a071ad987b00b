"""Correct rewrites of decay_groups (15_torch_optim): see README.md."""

# rewrite: spared-group-first: one loop, the group without decay listed first
def decay_groups(named_shapes, weight_decay):
    decayed, spared = [], []
    for name, shape in named_shapes:
        (decayed if len(shape) > 1 else spared).append(name)
    return [{"params": spared, "weight_decay": 0.0}, {"params": decayed, "weight_decay": weight_decay}]

# rewrite: by-dimension-count: group names by how many dimensions their shape has, then merge
def decay_groups(named_shapes, weight_decay):
    by_rank = {}
    for name, shape in named_shapes:
        by_rank.setdefault(min(len(tuple(shape)), 2), []).append(name)
    return [{"params": by_rank.get(2, []), "weight_decay": float(weight_decay)},
            {"params": by_rank.get(0, []) + by_rank.get(1, []), "weight_decay": 0}]
