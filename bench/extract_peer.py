"""The Python peers for bench/extract_cpu.sh: pooled features of every image in a
dataset, PyTorch on the CPU, the way people run it. One JSON line per mode.

  plain    torchvision EfficientNet + ImageFolder + DataLoader with workers,
           inference_mode: the ordinary script.
  strong   the strongest ordinary configuration: the same model and weights in
           channels-last, compiled (COMPILER, below), inference_mode, intra-op threads
           fixed to THREADS and one inter-op thread, the DataLoader's workers (one
           thread each, as PyTorch sets them) decoding ahead.
  compilers the forward pass alone (synthetic batches) of the strong model under each
           COMPILER and of the eager model (contiguous and channels-last): how the
           default COMPILER was chosen; one JSON line each, no DataLoader.
  module   an exported TorchScript backbone (tools/export_backbone.py: NAME.pt and its
           NAME.pt.json sidecar) with timm's own transform for the sidecar's recipe,
           run twice: `module` as loaded (what effprobe runs) and `module-strong`
           (channels-last, COMPILER applied to the module).

COMPILER (--compiler): `freeze` = torch.jit.freeze(torch.jit.trace(model)) (BatchNorm
folded, constants propagated); `freeze-ofi` = torch.jit.optimize_for_inference on top
(oneDNN layouts); `compile` = torch.compile(model) (inductor). Default `freeze`: on
2 threads, batch 32, EfficientNet-B0 at 224, it was the fastest here (see
bench/README or the commit message for the figures).

usage:
  extract_peer.py plain  DATASET --weights W.pt --variant b0 [--threads N] [--batch 32] [--workers N]
  extract_peer.py strong DATASET --weights W.pt --variant b0 [--compiler freeze|freeze-ofi|compile] ...
  extract_peer.py module DATASET --module NAME.pt [--compiler ...] ...
  extract_peer.py compilers DATASET --weights W.pt --variant b0 [--threads N] [--batch 32]

Each JSON line: mode, images, seconds (end to end: first request to the DataLoader
until the last batch's features, decode included), images_per_second,
forward_images_per_second (the same model on one synthetic batch, repeated, after
warm-up: the forward pass alone), setup_seconds (loading, tracing/compiling and
warm-up, not counted in seconds), and threads, batch, workers, compiler.
"""
import argparse
import json
import os
import time

import torch
import torchvision
from torchvision import datasets, transforms

COMPILERS = ("freeze", "freeze-ofi", "compile")
FORWARD_REPEATS = 3


def image_folders(root, transform):
    splits = [s for s in ("train", "val", "test") if os.path.isdir(os.path.join(root, s))]
    folders = [datasets.ImageFolder(os.path.join(root, s), transform=transform) for s in splits]
    return torch.utils.data.ConcatDataset(folders or [datasets.ImageFolder(root, transform=transform)])


def torchvision_model(variant, weights):
    model = getattr(torchvision.models, f"efficientnet_{variant}")()
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.classifier = torch.nn.Identity()  # pooled features, as extract produces
    return model.eval()


def torchvision_transform(variant):
    preset = torchvision.models.get_weight(f"EfficientNet_{variant.upper()}_Weights.IMAGENET1K_V1").transforms()
    transform = transforms.Compose([
        transforms.Resize(preset.resize_size[0], interpolation=preset.interpolation),
        transforms.CenterCrop(preset.crop_size[0]),
        transforms.ToTensor(),
        transforms.Normalize(preset.mean, preset.std),
    ])
    return transform, (preset.crop_size[0], preset.crop_size[0])


def timm_transform(sidecar):
    import timm.data

    cfg = sidecar["pretrained_cfg"]
    return timm.data.create_transform(input_size=tuple(cfg["input_size"]), interpolation=cfg["interpolation"],
                                      mean=tuple(cfg["mean"]), std=tuple(cfg["std"]), crop_pct=cfg["crop_pct"],
                                      crop_mode=cfg["crop_mode"]), tuple(cfg["input_size"][1:])


def strengthen(model, compiler, example):
    """channels-last, then the chosen compiler; returns the callable."""
    model = model.to(memory_format=torch.channels_last)
    example = example.contiguous(memory_format=torch.channels_last)
    if compiler == "compile":
        return torch.compile(model)
    with torch.no_grad():  # tracing under inference_mode makes inference tensors constants
        traced = model if isinstance(model, torch.jit.ScriptModule) else torch.jit.trace(model, example)
        frozen = torch.jit.freeze(traced.eval())
        return torch.jit.optimize_for_inference(frozen) if compiler == "freeze-ofi" else frozen


def forward_only(forward, example, batch):
    """images/s of `forward` on one batch, after two warm-up calls; and the warm-up's seconds."""
    started = time.perf_counter()
    with torch.inference_mode():
        for _ in range(2):  # warm-up: the TorchScript profiling runs, inductor's compile
            forward(example)
        warm_up = time.perf_counter() - started
        start = time.perf_counter()
        for _ in range(FORWARD_REPEATS):
            forward(example)
    return FORWARD_REPEATS * batch / (time.perf_counter() - start), warm_up


def compare_compilers(model, size, args):
    example = torch.randn(args.batch, 3, *size)
    channels_last = example.contiguous(memory_format=torch.channels_last)
    candidates = [("eager", lambda: model, example),
                  ("eager-channels-last", lambda: model.to(memory_format=torch.channels_last), channels_last)]
    candidates += [(compiler, lambda c=compiler: strengthen(model, c, example), channels_last)
                   for compiler in COMPILERS]
    for name, make, inputs in candidates:
        started = time.perf_counter()
        forward = make()
        rate, warm_up = forward_only(forward, inputs, args.batch)
        print(json.dumps({"mode": "compilers", "compiler": name, "forward_images_per_second": rate,
                          "setup_seconds": time.perf_counter() - started - FORWARD_REPEATS * args.batch / rate,
                          "threads": args.threads, "batch": args.batch}), flush=True)
        model = model.to(memory_format=torch.contiguous_format)


def run(mode, forward, dataset, size, args, channels_last, started_setup, compiler=None):
    example = torch.randn(args.batch, 3, *size)
    if channels_last:
        example = example.contiguous(memory_format=torch.channels_last)
    forward_rate, _ = forward_only(forward, example, args.batch)
    setup_seconds = time.perf_counter() - started_setup - FORWARD_REPEATS * args.batch / forward_rate
    with torch.inference_mode():
        loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, num_workers=args.workers)
        start = time.perf_counter()
        count = 0
        for images, _ in loader:
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            count += forward(images).shape[0]
        seconds = time.perf_counter() - start
    print(json.dumps({"mode": mode, "images": count, "seconds": seconds, "images_per_second": count / seconds,
                      "forward_images_per_second": forward_rate, "setup_seconds": setup_seconds,
                      "threads": args.threads, "batch": args.batch, "workers": args.workers,
                      "compiler": compiler}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("plain", "strong", "module", "compilers"))
    parser.add_argument("dataset")
    parser.add_argument("--weights", help="torchvision state dict (plain, strong)")
    parser.add_argument("--variant", default="b0", help="EfficientNet variant (plain, strong)")
    parser.add_argument("--module", help="exported TorchScript backbone NAME.pt (module)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--compiler", choices=COMPILERS, default="freeze")
    args = parser.parse_args()
    if args.mode in ("plain", "strong", "compilers") and not args.weights:
        parser.error(f"{args.mode} needs --weights")
    if args.mode == "module" and not args.module:
        parser.error("module needs --module NAME.pt")
    if args.mode == "module" and args.compiler == "compile":
        parser.error("module: torch.compile does not take a TorchScript module (use freeze or freeze-ofi)")
    torch.set_num_threads(args.threads)
    if args.mode != "plain":
        torch.set_num_interop_threads(1)

    started = time.perf_counter()
    if args.mode == "module":
        with open(args.module + ".json", encoding="utf-8") as handle:
            sidecar = json.load(handle)
        transform, size = timm_transform(sidecar)
        dataset = image_folders(args.dataset, transform)
        module = torch.jit.load(args.module, map_location="cpu").eval()
        run("module", module, dataset, size, args, False, started)
        started = time.perf_counter()
        example = torch.randn(args.batch, 3, *size)
        strong = strengthen(torch.jit.load(args.module, map_location="cpu").eval(), args.compiler, example)
        run("module-strong", strong, dataset, size, args, True, started, args.compiler)
        return
    transform, size = torchvision_transform(args.variant)
    dataset = image_folders(args.dataset, transform)
    model = torchvision_model(args.variant, args.weights)
    if args.mode == "compilers":
        compare_compilers(model, size, args)
    elif args.mode == "plain":
        run("plain", model, dataset, size, args, False, started)
    else:
        strong = strengthen(model, args.compiler, torch.randn(args.batch, 3, *size))
        run("strong", strong, dataset, size, args, True, started, args.compiler)


if __name__ == "__main__":
    main()
