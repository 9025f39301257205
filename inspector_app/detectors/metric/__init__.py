"""Metric learning on synthetic anomalies: a compact normal class on the unit sphere; far from it is a defect."""

from inspector_app.detectors.metric.detector import MetricDetector

__all__ = ["MetricDetector"]
