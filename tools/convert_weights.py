#!/usr/bin/env python3
"""Convert a PyTorch `.pth` state dict to safetensors for effprobe.

Python is fine here: this runs once per weights file, never on the product's
path (effprobe itself reads only safetensors, never pickles).

    tools/convert_weights.py SRC.pth OUT.safetensors --family torchvision \\
        --variant b3 --recipe torchvision:EfficientNet_B3_Weights.IMAGENET1K_V1
    tools/convert_weights.py SRC.pth OUT.safetensors --family timm --padding same \\
        --variant b3 --recipe timm:tf_efficientnet_b3.ns_jft_in1k
    tools/convert_weights.py SRC.pth OUT.safetensors --family efficientnet_lite \\
        --variant lite0 --recipe lite:224

The safetensors `__metadata__` records the family, padding rule, variant, source
and the preprocessing recipe (`effprobe.recipe`, JSON in the feature file's
`Preprocessing` shape), so the file alone says how to use it.
"""
import argparse
import json
import math
import sys

import torch
from safetensors.torch import save_file

FAMILIES = ("torchvision", "timm", "efficientnet_lite")


def fail(message):
    print(f"convert_weights: {message}", file=sys.stderr)
    sys.exit(2)


def load_state_dict(path, key):
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # weights_only refuses arbitrary pickled objects
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        fail(f"{path}: not a plain tensor checkpoint ({type(error).__name__}: {first_line})")
    if key:
        if not isinstance(loaded, dict) or key not in loaded:
            fail(f"{path}: no entry {key!r} at the top level")
        loaded = loaded[key]
    if not isinstance(loaded, dict):
        fail(f"{path}: holds a {type(loaded).__name__}, not a state dict")
    not_tensors = [name for name, value in loaded.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        fail(f"{path}: not a plain state dict; non-tensor entries: {not_tensors[:5]} "
             "(if the weights sit under one of them, pass --key NAME)")
    return {name: value.detach().contiguous().clone() for name, value in loaded.items()}


def recipe(spec):
    """`torchvision:WEIGHTS_ENUM`, `timm:MODEL.TAG`, or `lite:SIZE`."""
    kind, _, name = spec.partition(":")
    if kind == "torchvision":
        import torchvision
        preset = torchvision.models.get_weight(name).transforms()
        crop, resize = preset.crop_size[0], preset.resize_size[0]
        return {
            "input_size": crop, "resize_mode": "crop", "resize_size": resize,
            "crop_fraction": crop / resize, "interpolation": preset.interpolation.value,
            "antialias": True, "mean": list(preset.mean), "std": list(preset.std),
        }
    if kind == "timm":
        import timm
        cfg = timm.models.get_pretrained_cfg(name)
        if cfg is None:
            fail(f"timm knows no pretrained config {name!r}")
        size = cfg.input_size[1]
        return {
            "input_size": size, "resize_mode": "crop", "resize_size": math.floor(size / cfg.crop_pct),
            "crop_fraction": cfg.crop_pct, "interpolation": cfg.interpolation,
            "antialias": True, "mean": list(cfg.mean), "std": list(cfg.std),
        }
    if kind == "lite":
        # TensorFlow's EfficientNet-Lite eval: resize to size + 32, centre crop,
        # pixels as (x * 255 - 127) / 128. Confirmed by ImageNet top-1 on
        # hymenoptera val (ants 310, bees 309): 0.84 for Lite0.
        size = int(name)
        return {
            "input_size": size, "resize_mode": "crop", "resize_size": size + 32,
            "crop_fraction": size / (size + 32), "interpolation": "bilinear",
            "antialias": True, "mean": [127 / 255] * 3, "std": [128 / 255] * 3,
        }
    fail(f"unknown recipe {spec!r} (torchvision:ENUM, timm:MODEL.TAG or lite:SIZE)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("output")
    parser.add_argument("--family", required=True, choices=FAMILIES)
    parser.add_argument("--variant", required=True, help="b0..b7 or lite0..lite4")
    parser.add_argument("--padding", choices=("same", "symmetric"),
                        help="default: same for efficientnet_lite, symmetric for torchvision; required for timm")
    parser.add_argument("--recipe", help="preprocessing: torchvision:ENUM, timm:MODEL.TAG or lite:SIZE")
    parser.add_argument("--source-name", help="recorded as effprobe.source (default: the source path)")
    parser.add_argument("--key", help="take the state dict from this top-level entry")
    args = parser.parse_args()

    padding = args.padding or {"efficientnet_lite": "same", "torchvision": "symmetric"}.get(args.family)
    if padding is None:
        fail("timm files need --padding: same for tf_* models (TensorFlow ports), symmetric otherwise")
    tensors = load_state_dict(args.source, args.key)
    metadata = {
        "effprobe.family": args.family,
        "effprobe.padding": padding,
        "effprobe.variant": args.variant,
        "effprobe.source": args.source_name or args.source,
    }
    if args.recipe:
        metadata["effprobe.recipe"] = json.dumps(recipe(args.recipe))
    save_file(tensors, args.output, metadata=metadata)
    print(f"{args.output}: {len(tensors)} tensors, {json.dumps(metadata)}")


if __name__ == "__main__":
    main()
