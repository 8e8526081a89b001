"""Evaluation: per-case metrics (Dice, NSD), label groups per dataset, statistics, tables."""
