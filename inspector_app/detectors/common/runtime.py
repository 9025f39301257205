"""TensorFlow set-up in one place, imported lazily so the window opens before TensorFlow loads (~4 s).

Call :func:`tensorflow` instead of ``import tensorflow`` in family code. The first call quiets TensorFlow's
C++ logging (unless the app logs at debug level, ``-v``), turns on GPU memory growth (so two processes can
share a card and a finished training job returns its memory) and records what devices were found.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import cv2

from inspector_app.core.cores import core_split, place_current_thread

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def tensorflow() -> Any:
    """The ``tensorflow`` module, configured once."""
    verbose = log.isEnabledFor(logging.DEBUG)
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # its errors too: "remapper failed" is not the user's
    with _start_up_lines_to_debug_log(enabled=not verbose):
        import tensorflow as tf  # noqa: PLC0415 - lazy on purpose

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # already initialised by someone else
            log.debug("memory growth not set on %s: %s", gpu.name, exc)
    return tf


# TensorFlow's native start-up lines: "I0000 00:00:17... file.cc:31] ...", absl's notice, CPU-feature advice.
_NATIVE_LINE = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:|WARNING: All log messages before absl|To enable the following)")


@contextmanager
def _start_up_lines_to_debug_log(enabled: bool) -> Iterator[None]:
    """Catch what native code writes to stderr while TensorFlow imports, and log its own lines at debug level.

    Lines written before absl's logging starts ("Could not find cuda drivers") ignore TF_CPP_MIN_LOG_LEVEL,
    so only redirecting file descriptor 2 keeps them off the user's terminal. Other lines (another thread's
    log output in the window, say) are written back to stderr afterwards, so nothing is lost.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                if _NATIVE_LINE.match(line):
                    log.debug("tensorflow: %s", line)
                else:
                    print(line, file=sys.stderr)


def keras() -> Any:
    """The ``keras`` module (Keras 3), after TensorFlow is configured."""
    tensorflow()
    import keras as keras_module  # noqa: PLC0415

    return keras_module


def gpu_descriptions() -> list[str]:
    """Human-readable names of the GPUs TensorFlow sees, with memory where known."""
    tf = tensorflow()
    described = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        name = details.get("device_name", gpu.name)
        described.append(str(name))
    return described


def device_summary() -> str:
    """One line for logs and the Help menu: which devices training and inference will use."""
    gpus = gpu_descriptions()
    if not gpus:
        return f"CPU only ({os.cpu_count()} cores) — training will be slower"
    return f"{len(gpus)} GPU(s): " + ", ".join(gpus)


def distribution_strategy() -> Any:
    """MirroredStrategy over every GPU when there are several, otherwise the default strategy."""
    tf = tensorflow()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        log.info("training on %d GPUs with MirroredStrategy", len(gpus))
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def reserve_core_for_display() -> int:
    """Give inference every core but one, and pin the calling thread to those cores.

    The core left over reads frames (``core.cores``). Batch-1 inference of a small network gains little from
    more threads, while pinning keeps the reader's decoding off the core TensorFlow computes on. TensorFlow
    starts its compute threads from the first thread that runs an operation and they inherit that thread's
    cores, so call this from the inference thread before TensorFlow executes anything; the thread count of
    later calls is ignored (with a log line).
    ``INSPECTOR_APP_INFERENCE_THREADS`` overrides the count. Returns the thread count in force.
    """
    place_current_thread("inference")
    split = core_split()
    wanted = os.environ.get("INSPECTOR_APP_INFERENCE_THREADS")
    if wanted and wanted.isdigit():
        threads = int(wanted)
    else:
        threads = len(split.inference) if split else max(1, (os.cpu_count() or 2) - 1)
    tf = tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as exc:  # TensorFlow already ran something in this process
        log.info("inference thread count left as it was: %s", exc)
        threads = int(tf.config.threading.get_intra_op_parallelism_threads()) or threads
    # OpenCV (map smoothing and resizing) gets the same count: its own pool would otherwise spread each call
    # over every core, the reader's included.
    cv2.setNumThreads(threads)
    return threads
