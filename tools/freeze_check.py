#!/usr/bin/env python3
"""Is a torch.jit.freeze'd TorchScript backbone the same function as its eager model?

    tools/freeze_check.py [MODEL ...] [--seeds 0,1] [--batch 2]

For each model and seed, two kinds of random weights: `raw` (timm's initialisation
alone: BatchNorm running statistics at their defaults, mean 0 and variance 1) and
`random` (export_backbone's random:SEED: norm affines redrawn, BatchNorm calibrated).
Prints, as max|a-b| / max|b| over the batch of pooled features:

    eager32~64    float32 eager vs float64 eager: how much float32 rounding the
                  weights alone amplify (the conditioning of the function)
    frozen~eager  frozen float32 module vs float32 eager (what was seen while planning)
    frozen~64     frozen float32 module vs float64 eager
    frozen64      frozen float64 module vs float64 eager: freezing (BatchNorm folded
                  into the convolutions, constants propagated) done in float64, where
                  rounding is 1e-16; anything above ~1e-12 would be a real fault
and the largest |activation| after any BatchNorm in the float32 eager model.
"""
import argparse
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timm_backbone as tb  # noqa: E402

import timm  # noqa: E402
import torch  # noqa: E402
from torch.nn.modules.batchnorm import _BatchNorm  # noqa: E402


def frozen(model, example):
    with torch.no_grad():
        return torch.jit.freeze(torch.jit.trace(tb.PreLogits(model).eval(), example, check_trace=False))


def largest_activation(model, images):
    peak = [0.0]

    def hook(_module, _inputs, output):
        peak[0] = max(peak[0], output.detach().abs().max().item())

    handles = [module.register_forward_hook(hook) for module in model.modules() if isinstance(module, _BatchNorm)]
    with torch.no_grad():
        model(images)
    for handle in handles:
        handle.remove()
    return peak[0]


def check(name, seed, kind, batch):
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False, num_classes=0).eval()
    size = tuple(model.pretrained_cfg["input_size"][1:])
    if kind == "random":
        tb.randomise(model, seed, size)
    cfg = tb.data_config(model)
    images = tb.synthetic_images(torch.Generator().manual_seed(seed + 100), batch, *size, cfg["mean"], cfg["std"])
    model64 = copy.deepcopy(model).double()
    with torch.no_grad():
        eager32 = model(images)
        eager64 = model64(images.double())
        frozen32 = frozen(model, images)(images)
        frozen64 = frozen(model64, images.double())(images.double())
    return {
        "eager32~64": tb.relative_difference(eager32, eager64)[1],
        "frozen~eager": tb.relative_difference(frozen32, eager32)[1],
        "frozen~64": tb.relative_difference(frozen32, eager64)[1],
        "frozen64": tb.relative_difference(frozen64, eager64)[1],
        "max|act|": largest_activation(model, images),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=["efficientnetv2_rw_s"])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    columns = ["eager32~64", "frozen~eager", "frozen~64", "frozen64", "max|act|"]
    print(f"{'model':24s} {'seed':>4s} {'weights':8s} " + " ".join(f"{c:>13s}" for c in columns))
    for name in args.models:
        for seed in (int(s) for s in args.seeds.split(",")):
            for kind in ("raw", "random"):
                row = check(name, seed, kind, args.batch)
                print(f"{name:24s} {seed:4d} {kind:8s} " + " ".join(f"{row[c]:13.3g}" for c in columns), flush=True)


if __name__ == "__main__":
    main()
