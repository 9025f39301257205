"""Dev check (not a test): the Keras EfficientNet-Lite0/Lite2 gives the same features as a PyTorch reference.

PyTorch is never a dependency of the app, so it lives in a scratch virtual environment:

    python3.11 -m venv /tmp/torchcheck && /tmp/torchcheck/bin/pip install torch numpy
    python benchmarks/check_lite_against_torch.py --torch-python /tmp/torchcheck/bin/python [--variant efficientnet_lite2]

The script runs twice. In the project environment it feeds a fixed batch (a smooth random image, a real photo
from scikit-learn's sample images, uniform noise) through the Keras model built by
``inspector_app.detectors.backbones.efficientnet_lite`` and writes the inputs and the intermediate outputs to a
temporary ``.npz``. It then starts itself under ``--torch-python`` with ``--torch-side``: there a PyTorch
Lite written from scratch below (TF-style "same" padding, ReLU6, BN eps 1e-3, no squeeze-excite; the stage
table is handed over from the Keras side, so a mistake in the Lite2 scaling fails ``strict`` loading) loads the
*same* ``.pth`` with ``torch.load`` — independent of the app's restricted reader — with ``strict=True``, and
the two sets of outputs are compared. Exit status 1 when any max abs difference exceeds ``--tolerance``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

def checked_blocks(stages: list[list[int]]) -> list[int]:
    """The last block of every stage after the first (strides 4, 8, 16, 16, 32, 32); logits are compared too."""
    ends = list(itertools.accumulate(stage[0] for stage in stages))
    return [end - 1 for end in ends[1:]]


def make_inputs(size: int) -> np.ndarray:
    """Three RGB images in 0..255 (float32): smooth noise, a photo, white noise."""
    from PIL import Image  # noqa: PLC0415

    rng = np.random.default_rng(0)
    smooth = rng.uniform(0, 255, (size // 8, size // 8, 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(smooth).resize((size, size), Image.BICUBIC), np.float32)
    try:
        import sklearn.datasets  # noqa: PLC0415

        photo_path = Path(sklearn.datasets.__file__).parent / "images" / "china.jpg"
        photo = np.asarray(Image.open(photo_path).convert("RGB").resize((size, size), Image.BICUBIC), np.float32)
    except (ImportError, OSError):
        photo = smooth[::-1].copy()
    noise = rng.uniform(0, 255, (size, size, 3)).astype(np.float32)
    return np.stack([smooth, photo, noise])


def keras_side(args: argparse.Namespace) -> int:
    from inspector_app.detectors.backbones import efficientnet_lite as el  # noqa: PLC0415
    from inspector_app.detectors.common import runtime  # noqa: PLC0415

    keras = runtime.keras()
    variant = el.lite_variant(args.variant)
    stages = [list(stage) for stage in el.lite_stages(variant)]
    inputs = make_inputs(args.size)
    worst = 0.0
    for fold in (False, True):  # as converted, and BatchNorm-folded (what the patch-memory family runs)
        model = el.load_efficientnet_lite(variant, include_top=True, fold=fold)
        names = [el.block_output_name(i, folded=fold, variant=variant) for i in checked_blocks(stages)]
        probe = keras.Model(model.input, [model.get_layer(n).output for n in names] + [model.output])
        outputs = [o.numpy() for o in probe(inputs, training=False)]
        report = run_torch_side(args, inputs, outputs, stages, el.package_weights_file(variant))
        if report is None:
            return 2
        print(f"-- Keras {variant.title} {'with BatchNorm folded' if fold else 'as converted'}, input {args.size}×{args.size}")
        for name, diff in report["max_abs_diff"].items():
            scale = report["max_abs_value"][name]
            print(f"{name:>8}: max |keras - torch| = {diff:.2e}   (max |value| {scale:.2f})")
        print(f"top-1 classes keras {np.argmax(outputs[-1], axis=1).tolist()}  torch {report['top1']}")
        worst = max(worst, *report["max_abs_diff"].values())
    print(f"worst max abs diff {worst:.2e} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


def run_torch_side(
    args: argparse.Namespace, inputs: np.ndarray, outputs: list[np.ndarray], stages: list[list[int]], pth: Path
) -> dict | None:
    """Run the PyTorch reference in the scratch venv on the same inputs; its JSON report, or None on failure."""
    taps = {f"block{i}": o for i, o in zip(checked_blocks(stages), outputs[:-1], strict=True)}
    with tempfile.TemporaryDirectory() as tmp:
        exchange = Path(tmp) / "keras_outputs.npz"
        np.savez(exchange, inputs=inputs, logits=outputs[-1], **taps)
        command = [args.torch_python, __file__, "--torch-side", str(exchange), "--pth", str(pth),
                   "--stages", json.dumps(stages)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- the PyTorch side (runs in the scratch venv: torch + numpy only) -----------------------------------------
def torch_side(exchange: str, pth: str, stages: list[list[int]]) -> None:
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415
    from torch.nn import functional as F  # noqa: PLC0415

    class SameConv(nn.Conv2d):
        """Conv2d padded like TensorFlow's "same" (extra pixel at the bottom/right for stride 2)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pads = []
            for size, k, s in zip(x.shape[-2:][::-1], self.kernel_size[::-1], self.stride[::-1], strict=True):
                total = max((math.ceil(size / s) - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            return F.conv2d(F.pad(x, pads), self.weight, None, self.stride, 0, 1, self.groups)

    def bn(c: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(c, eps=1e-3)

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, s: int, e: int) -> None:
            super().__init__()
            mid = cin * e
            self.expand = e != 1
            if self.expand:
                self._expand_conv, self._bn0 = SameConv(cin, mid, 1, bias=False), bn(mid)
            self._depthwise_conv = SameConv(mid, mid, k, stride=s, groups=mid, bias=False)
            self._bn1 = bn(mid)
            self._project_conv, self._bn2 = SameConv(mid, cout, 1, bias=False), bn(cout)
            self.skip = s == 1 and cin == cout

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
            y = F.relu6(self._bn1(self._depthwise_conv(y)))
            y = self._bn2(self._project_conv(y))
            return y + x if self.skip else y

    checked = checked_blocks(stages)

    class Lite(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self._conv_stem, self._bn0 = SameConv(3, 32, 3, stride=2, bias=False), bn(32)
            blocks, cin = [], 32
            for repeats, k, s, e, cout in stages:
                for r in range(repeats):
                    blocks.append(Block(cin, cout, k, s if r == 0 else 1, e))
                    cin = cout
            self._blocks = nn.ModuleList(blocks)
            self._conv_head, self._bn1 = SameConv(cin, 1280, 1, bias=False), bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x: torch.Tensor) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
            x = F.relu6(self._bn0(self._conv_stem((x - 127.0) / 128.0)))
            taps = {}
            for i, block in enumerate(self._blocks):
                x = block(x)
                if i in checked:
                    taps[i] = x
            x = F.relu6(self._bn1(self._conv_head(x)))
            return taps, self._fc(x.mean(dim=(2, 3)))

    net = Lite().eval()
    state = torch.load(pth, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    data = np.load(exchange)
    with torch.no_grad():
        taps, logits = net(torch.from_numpy(data["inputs"]).permute(0, 3, 1, 2).contiguous())
    diffs, scales = {}, {}
    for i, tap in taps.items():
        ours = tap.permute(0, 2, 3, 1).numpy()
        diffs[f"block{i}"] = float(np.abs(ours - data[f"block{i}"]).max())
        scales[f"block{i}"] = float(np.abs(ours).max())
    diffs["logits"] = float(np.abs(logits.numpy() - data["logits"]).max())
    scales["logits"] = float(np.abs(logits.numpy()).max())
    top1 = logits.argmax(dim=1).tolist()
    print(json.dumps({"max_abs_diff": diffs, "max_abs_value": scales, "top1": top1}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", default="/tmp/torchcheck/bin/python", help="python with torch installed")
    parser.add_argument("--size", type=int, default=224, help="input size (default 224)")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest allowed max abs difference")
    parser.add_argument("--variant", default="efficientnet_lite0", help="efficientnet_lite0 or efficientnet_lite2")
    parser.add_argument("--torch-side", metavar="NPZ", help=argparse.SUPPRESS)
    parser.add_argument("--pth", help=argparse.SUPPRESS)
    parser.add_argument("--stages", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_side:
        torch_side(args.torch_side, args.pth, json.loads(args.stages))
        return 0
    return keras_side(args)


if __name__ == "__main__":
    sys.exit(main())
