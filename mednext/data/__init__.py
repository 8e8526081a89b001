"""Datasets: the synthetic phantom, and (separately) the real datasets' download and conversion."""
