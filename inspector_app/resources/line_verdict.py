"""PASS/FAIL for parts on a line PC, from an ``inspector-app export`` folder, with numpy and TensorFlow alone.

    python line_verdict.py EXPORT_FOLDER IMAGE.png [IMAGE.png ...]

A line program does the same with its camera's frames: ``LineModel(folder).verdict(rgb)``, ``rgb`` a uint8
H×W×3 RGB array. ``line_scoring.py`` (beside this file) follows ``model.json``: resizing, tiles, the networks
(a SavedModel folder, or a ``.tflite`` file run by LiteRT) and the scoring steps after them.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # line_scoring.py ships in the same folder

from line_scoring import LineModel  # noqa: E402


def main(folder, images):
    import tensorflow as tf  # only to read the image files; a line program passes its camera's frames

    model = LineModel(folder)
    threshold = model.spec["calibration"]["threshold"]
    for name in images:
        rgb = tf.io.decode_image(tf.io.read_file(name), channels=3, expand_animations=False).numpy()
        failed, score, _normalised = model.verdict(rgb)
        print(f"{name}\t{'FAIL' if failed else 'PASS'}\tscore {score:.5g}\t({score / threshold:.2f} × threshold)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
