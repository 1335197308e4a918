"""What experiments import inside the containers: `observe` reports a measured value.

    from labkit import observe
    observe("ratio", 1.7, unit="x")

An observation is one marked JSON line on stdout; everything else an experiment prints
is shown to the learner as it runs. The engine on the host collects the marked lines.
`output_dir()` is where to save files for the report (plots); `quick()` asks for a small
workload (`invoke station N --quick`, and the tests).
"""

from labkit.protocol import observe, output_dir, quick

__all__ = ["observe", "output_dir", "quick"]
