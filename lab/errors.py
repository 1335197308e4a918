"""The one kind of error a learner should see: a single line, then a non-zero exit."""


class LabError(Exception):
    """Bad input or a missing prerequisite. The message is one line, with the fix in it."""

    exit_code = 2
