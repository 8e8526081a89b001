"""Evaluation: per-case metrics under two protocols (paper: the official MedNeXt evaluation; physical: NSD in mm),
class definitions per dataset, statistics, tables, figures, the reader's text and ``mednext-evaluate``."""
