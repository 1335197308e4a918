"""The labels the lab puts on its containers and images: what clean-up, the next run and the
builder find them by. One name each, here, so that what writes a label and what filters
on it cannot drift apart."""

from __future__ import annotations

RUN = "org.lab.run"  # a station run's id, on each of its containers (and --verify's re-run's)
RESULTS = "org.lab.results"  # the results folder a station run writes into
SHELL = "org.lab.shell"  # `invoke shell`'s container
VERIFY = "org.lab.verify"  # --verify's re-run's containers
INPUTS = "org.lab.inputs"  # an image's inputs digest (compose.yaml's build sets it)
