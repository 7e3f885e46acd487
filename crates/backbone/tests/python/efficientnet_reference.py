"""Reference EfficientNets from PyPI torchvision / timm for the Rust conformance tests.

  case     build a randomly initialised model (fixed seed), randomise batch-norm
           affine parameters, calibrate its running statistics with train-mode
           passes over random images, then write its state dict (safetensors), the
           test inputs and the reference pooled features.
  describe print, per family and variant, the architecture facts the Rust
           scaling rules must reproduce (built on the meta device: no weights).
  weights  write a default-initialised state dict (safetensors), optionally with
           one tensor renamed: input for the weights-file error tests.
  pickle   write a state dict with torch.save (a .pth the product must refuse).
  padding  print timm's "same" padding (pad_same_arg) over a grid of sizes.
"""

import argparse
import copy
import json
import sys
import time

import torch
import torch.nn.functional as F
import timm
import torchvision
from safetensors.torch import save_file

VARIANTS = [f"b{i}" for i in range(8)]
RESOLUTION = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "b4": 380, "b5": 456, "b6": 528, "b7": 600,
              "lite0": 224, "lite1": 240, "lite2": 260, "lite3": 280, "lite4": 300}
LITE = [f"lite{i}" for i in range(5)]
FAMILIES = ["torchvision", "timm", "timm_tf"]


def build(family, variant):
    if family == "torchvision":
        return getattr(torchvision.models, f"efficientnet_{variant}")(weights=None, stochastic_depth_prob=0.0)
    name = f"tf_efficientnet_{variant}" if family == "timm_tf" else f"efficientnet_{variant}"
    return timm.create_model(name, pretrained=False)


def residual_blocks(model):
    """The blocks whose output is added to their input (stride 1, same width)."""
    for module in model.modules():
        if getattr(module, "use_res_connect", False) or getattr(module, "has_skip", False):
            yield module


def pooled_features(model, family, images):
    if family == "torchvision":
        return torch.flatten(model.avgpool(model.features(images)), 1)
    return model.forward_head(model.forward_features(images), pre_logits=True)


def random_images(generator, batch, height, width):
    """Smooth random scenes plus noise: image-level variation survives global pooling
    (pure white noise would average out to nearly identical pooled features)."""
    coarse = torch.randn(batch, 3, 5, 5, generator=generator)
    smooth = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    offset = 0.5 * torch.randn(batch, 3, 1, 1, generator=generator)
    noise = 0.3 * torch.randn(batch, 3, height, width, generator=generator)
    return smooth + offset + noise


def odd_size(resolution):
    """A non-square odd input size: exercises "same" padding's asymmetric case on both axes."""
    height = (resolution * 3 // 4) | 1
    return height, resolution + 1


def make_case(args):
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    started = time.perf_counter()
    model = build(args.family, args.variant)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.2, generator=generator)
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration passes
    # Randomly initialised EfficientNets with unit-gain batch-norm are chaotic: the
    # residual stream grows block after block and fp32 rounding is amplified until
    # the fp32 and fp64 references disagree at 1e-3. Damping each residual branch
    # (as timm's zero_init_last does, but not to zero) keeps the network in the
    # ordered regime that trained networks are in.
    for block in residual_blocks(model):
        last_norm = [m for m in block.modules() if isinstance(m, torch.nn.BatchNorm2d)][-1]
        with torch.no_grad():
            last_norm.weight.mul_(args.branch_gain)
    resolution = RESOLUTION[args.variant]
    model.train()
    with torch.no_grad():
        for _ in range(args.calibration_passes):
            model(random_images(generator, args.calibration_batch, resolution, resolution))
    model.eval()

    model64 = copy.deepcopy(model).double()
    tensors = {}
    sizes = [(resolution, resolution), odd_size(resolution)]
    for index, (height, width) in enumerate(sizes):
        images = random_images(generator, args.batch, height, width)
        with torch.no_grad():
            features = pooled_features(model, args.family, images)
            exact = pooled_features(model64, args.family, images.double())
        rounding = ((features.double() - exact).abs().max() / exact.abs().max()).item()
        if not rounding <= 1e-5:
            sys.exit(
                f"ill-conditioned reference at {height}x{width}: fp32 and fp64 features differ by "
                f"{rounding:.3g} (relative), so a 1e-4 comparison would test rounding, not the model"
            )
        spread = features.std(dim=0).mean().item()
        magnitude = features.abs().mean().item()
        if not spread >= 0.1 * magnitude:
            sys.exit(
                f"reference features barely vary across the batch at {height}x{width}: "
                f"mean per-dim std {spread:.4g} < 10% of mean |feature| {magnitude:.4g}"
            )
        tensors[f"input_{index}"] = images.contiguous()
        tensors[f"features_{index}"] = features.contiguous()
    metadata = {}
    if args.family == "timm_tf":
        metadata = {"effprobe.family": "timm", "effprobe.padding": "same", "effprobe.variant": args.variant}
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, f"{args.out}/weights.safetensors", metadata=metadata)
    save_file(tensors, f"{args.out}/cases.safetensors")
    print(json.dumps({
        "sizes": sizes,
        "seconds": time.perf_counter() - started,
        "rounding": rounding,
        "feature_dim": features.shape[1],
    }))


def describe(_args):
    facts = {}
    with torch.device("meta"):
        for family in FAMILIES:
            # torchvision has no Lite; timm has efficientnet_liteN and tf_efficientnet_liteN.
            lite = [] if family == "torchvision" else LITE
            for variant in VARIANTS + lite:
                model = build(family, variant)
                if family == "torchvision":
                    stages = [len(stage) for stage in model.features[1:-1]]
                    stem = model.features[0][0].out_channels
                    feature_dim = model.classifier[1].in_features
                    bn_eps = model.features[0][1].eps
                else:
                    stages = [len(stage) for stage in model.blocks]
                    stem = model.conv_stem.out_channels
                    feature_dim = model.num_features
                    bn_eps = model.bn1.eps
                facts[f"{family}/{variant}"] = {
                    "stage_repeats": stages,
                    "stem_channels": stem,
                    "feature_dim": feature_dim,
                    "bn_eps": bn_eps,
                }
    print(json.dumps(facts))


def weights(args):
    torch.manual_seed(args.seed)
    model = build(args.family, args.variant)
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    if args.rename:
        old, new = args.rename.split("=")
        state[new] = state.pop(old)
    metadata = {"effprobe.family": "timm", "effprobe.padding": "same"} if args.family == "timm_tf" else {}
    save_file(state, args.out, metadata=metadata)


def padding(_args):
    from timm.layers.padding import pad_same_arg

    grid = []
    for size in range(1, 70):
        for kernel in (3, 5):
            for stride in (1, 2):
                left, right, top, bottom = pad_same_arg([size, size], [kernel, kernel], [stride, stride])
                grid.append({"size": size, "kernel": kernel, "stride": stride, "before": top, "after": bottom})
    print(json.dumps(grid))


def pickle(args):
    model = build("torchvision", "b0")
    torch.save(model.state_dict(), args.out)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    case = commands.add_parser("case")
    case.add_argument("--family", choices=FAMILIES, required=True)
    case.add_argument("--variant", choices=VARIANTS + LITE, required=True)
    case.add_argument("--out", required=True)
    case.add_argument("--seed", type=int, default=20240611)
    case.add_argument("--batch", type=int, default=3)
    case.add_argument("--calibration-batch", type=int, default=6)
    case.add_argument("--calibration-passes", type=int, default=2)
    case.add_argument("--branch-gain", type=float, default=0.25)
    case.set_defaults(run=make_case)
    commands.add_parser("describe").set_defaults(run=describe)
    commands.add_parser("padding").set_defaults(run=padding)
    weights_file = commands.add_parser("weights")
    weights_file.add_argument("--family", choices=FAMILIES, required=True)
    weights_file.add_argument("--variant", choices=VARIANTS + LITE, required=True)
    weights_file.add_argument("--out", required=True)
    weights_file.add_argument("--rename", help="OLD=NEW: store tensor OLD under the name NEW")
    weights_file.add_argument("--seed", type=int, default=7)
    weights_file.set_defaults(run=weights)
    pickled = commands.add_parser("pickle")
    pickled.add_argument("--out", required=True)
    pickled.set_defaults(run=pickle)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
