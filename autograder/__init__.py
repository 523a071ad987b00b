"""The course's autograder: a thin, safer layer over nbgrader 0.9.

``python -m autograder release | collect | grade | feedback | export | selfgrade | mycopies | demo``;
see README.md in this folder for the commands and the threat model.
"""
