"""Measurements, printed rather than asserted: run from a clone, not shipped with the package.

``stream_bench`` is what ``inspector-app bench --stream`` runs; the other modules are scripts
(``python benchmarks/NAME.py --help``).
"""
