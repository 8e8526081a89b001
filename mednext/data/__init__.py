"""Datasets: the synthetic phantom, and the paper's four datasets from download to nnU-Net raw format.

* ``phantom``: the seeded synthetic CT-like dataset of the demo.
* ``download`` (resumable, checksum record), ``archives`` (safe extraction), ``synapse`` (access
  behind one interface), ``convert`` (case-by-case conversion), ``splits`` (pinned 5-fold
  splits), ``acquire`` (the two steps as functions and a CLI).
* ``validate``: the case-by-case check every raw dataset passes before planning.
"""
