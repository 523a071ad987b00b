"""The experiments the lessons run and draw, one module per lesson.

A lesson cell calls one function here with the numbers it wants the learner to see (learning
rates, steps, seeds) and gets the figure and the measured values back, so that the lesson shows
the experiment's idea rather than thirty lines of plotting. Each function is tested in
``tests/test_demos_<module>.py``: the values it returns are the ones the lesson's prose states.
"""
