"""Reference library of the *Optimizers, hands-on* course.

The notebooks import everything they reuse from here: the reference optimizers
(:mod:`course_lib.optimizers`), 2-D test surfaces (:mod:`course_lib.functions`),
data and models, training loops, plots, widgets and the learners' self-checks.
"""

__version__ = "0.1.0"
