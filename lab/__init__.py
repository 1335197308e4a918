"""Host side of the lab: build the images, check the machine, run the stations.

tasks.py (invoke) is a thin layer over this package; the tests import it too.
"""
