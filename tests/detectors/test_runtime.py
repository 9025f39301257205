"""Inference threads: TensorFlow and OpenCV get the same count, so neither spreads onto the reader's core."""

from __future__ import annotations

import threading

import cv2

from inspector_app.detectors.common.runtime import reserve_core_for_display


def test_opencv_gets_the_inference_thread_count() -> None:
    before = cv2.getNumThreads()
    cv2.setNumThreads(7)  # anything but the count the call should set
    outcome: dict[str, int] = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("threads", reserve_core_for_display()))
    thread.start()  # in its own thread: the call pins the calling thread
    thread.join()
    try:
        assert outcome["threads"] >= 1
        assert cv2.getNumThreads() == outcome["threads"]
    finally:
        cv2.setNumThreads(before)
