"""Checks for the exercises of lessons 00 and 01: numerical gradients, a gradient-descent step and loop,
the full-batch gradient of a model. (Filled in with those lessons.)"""
