"""The kinds of data a model learns from: the labels of dataset samples and what a model family ``needs``."""

GOOD = "good"
DEFECT = "defect"
MASK = "mask"  # pixel masks of the defects
