"""Correct rewrites of choose_training (14_comparison): see README.md.

Any recipe within the budget whose mean validation accuracy over the hidden test's five seeds
reaches 0.96 is right; training is deterministic, and these two reach 0.972 and 0.973.
"""
import numpy as np

# rewrite: adam-recipe: another optimizer of the race, Adam at lr 0.01, batches of 32, two epochs
def choose_training():
    return {"optimizer": "Adam", "hyperparameters": {"lr": 0.01}, "batch_size": 32, "epochs": 2}

# rewrite: numpy-integers-explicit-defaults: Adamax with its defaults spelled out, sizes as NumPy integers
def choose_training():
    recipe = dict(optimizer="Adamax", batch_size=np.int64(16), epochs=np.int64(2))
    recipe["hyperparameters"] = {"lr": 0.03, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
    return recipe
