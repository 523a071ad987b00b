"""Checks for the exercises of lessons 02 and 03: per-example SGD with reshuffling, the mini-batch
iterator and loop. (Filled in with those lessons.)"""
