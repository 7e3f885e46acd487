#!/usr/bin/env python3
"""Export a timm backbone to TorchScript for effprobe (format effprobe-backbone/1).

    tools/export_backbone.py MODEL --weights SPEC --out DIR/NAME.pt
        [--input-size H[,W]] [--method trace|script]
        [--mean R,G,B] [--std R,G,B] [--interpolation NAME] [--crop-pct F] [--crop-mode MODE]

MODEL is a timm architecture (`convnext_tiny`) or ARCH.TAG (`convnext_tiny.fb_in22k`:
that tag's recipe). SPEC says where the tensors come from:

    random[:SEED]    seeded random weights, made well-conditioned (see below);
                     `random` is seed 0 (effprobe's --weights vocabulary)
    [hf:]OWNER/NAME  a timm model repo in the LOCAL Hugging Face cache (--hf-cache, else
                     HF_HUB_CACHE / HF_HOME as huggingface_hub resolves them; nothing
                     is downloaded: a missing entry's error prints the `hf download`
                     command that fetches it)
    ARCH.TAG         a timm pretrained name, from the local cache (timm's hf_hub_id)
    PATH             a checkpoint file (.safetensors .pth .pt .bin .npz) read by timm's
                     pretrained-file loader (its checkpoint filter applies); every
                     tensor must land in the model and every model tensor must be in it

Writes NAME.pt, a TorchScript module (float32, CPU, not frozen) mapping normalised
pixels [N, 3, H, W] at the recipe's input size to pooled pre-logits features [N, D]
(`forward_head(forward_features(x), pre_logits=True)` of `timm.create_model(MODEL,
num_classes=0)`), and NAME.pt.json, the sidecar with the recipe (timm's
`resolve_data_config(model=...)`, the flags above applied the way timm applies its
own arguments), feature width, pooling, weights identity and the module's blake3.
Both files are written under temporary names and renamed into place.

Before writing, the saved-and-reloaded module is run on a batch of 3 synthetic
natural-image-like inputs (the trace used 2) and compared with the eager model on the
same input; beyond 1e-4 relative (max|a-b| / max|b|) nothing is written. The eager
model's `model(x)` must also equal its pre-logits features.

random:SEED, exactly: timm's own initialisation under torch.manual_seed(SEED); the
affine weights of all normalisation layers redrawn ~ U(0.5, 1.5), their biases
~ N(0, 0.1), layer-scale `gamma`s ~ U(0.1, 0.3) (so no residual branch is switched
off); the last BatchNorm weight of each residual branch x 0.25 (timm's `has_skip`
blocks, and what a block's `zero_init_last` would zero), so the residual stream does
not grow block after block; then BatchNorm running statistics calibrated by 2
train-mode passes (BatchNorm layers only, cumulative average) over 8 seeded synthetic
images at the input size, normalised with the recipe's mean/std. LayerNorm-only
models get no forward pass. (tools/timm_backbone.py `randomise` says why each step.)
The weights identity is the blake3 of `random:ARCH.TAG:seed=SEED:input=HxW:effprobe-random/1`
(TAG: the recipe's timm tag, also the sidecar's pretrained_tag).

Exit status: 0 written; 2 bad argument (unknown model, malformed spec, bad size);
1 anything else (weights not cached, checkpoint does not fit, export check failed).
"""
import argparse
import datetime
import io
import json
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timm_backbone as tb  # noqa: E402  (sets HF_HUB_OFFLINE before timm loads)
from timm_backbone import BackboneError  # noqa: E402

import torch  # noqa: E402
import timm  # noqa: E402

FORMAT = "effprobe-backbone/1"
TRACE_BATCH = 2
CHECK_BATCH = 3
TOLERANCE_REL = 1e-4
CHECK_SEED = 20260105


def input_size_arg(text):
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected H or H,W (pixels)")
    if len(sizes) not in (1, 2) or min(sizes) < 8:
        raise argparse.ArgumentTypeError(f"{text!r}: expected H or H,W, each at least 8 pixels")
    return (sizes[0], sizes[-1])


def triple_arg(text):
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected three numbers R,G,B")
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"{text!r}: expected three numbers R,G,B")
    return tuple(values)


def crop_pct_arg(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number in (0, 1]")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number in (0, 1]")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="export_backbone.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL", help="timm architecture, or ARCH.TAG for that tag's recipe")
    parser.add_argument("--weights", required=True, metavar="SPEC",
                        help="random[:SEED] | [hf:]OWNER/NAME | ARCH.TAG | checkpoint file")
    parser.add_argument("--hf-cache", metavar="DIR", help="the Hugging Face cache folder (default: HF_HUB_CACHE, "
                        "else HF_HOME/hub, else ~/.cache/huggingface/hub)")
    parser.add_argument("--out", required=True, metavar="PATH.pt", help="module path; the sidecar is PATH.pt.json")
    parser.add_argument("--input-size", type=input_size_arg, metavar="H[,W]",
                        help="input size (default: the recipe's)")
    parser.add_argument("--method", choices=("trace", "script"), default="trace",
                        help="torch.jit.trace (default) or torch.jit.script")
    parser.add_argument("--mean", type=triple_arg, metavar="R,G,B", help="recipe mean (default: timm's)")
    parser.add_argument("--std", type=triple_arg, metavar="R,G,B", help="recipe std (default: timm's)")
    parser.add_argument("--interpolation", choices=("bilinear", "bicubic", "nearest"),
                        help="recipe resize interpolation (default: timm's)")
    parser.add_argument("--crop-pct", type=crop_pct_arg, metavar="F", help="recipe crop fraction (default: timm's)")
    parser.add_argument("--crop-mode", choices=("center", "squash", "border"), help="recipe crop mode")
    args = parser.parse_args(argv)
    if not args.out.endswith(".pt"):
        parser.error(f"--out {args.out}: the module's name must end in .pt")
    return args


def recipe_overrides(args):
    names = ("mean", "std", "interpolation", "crop_pct", "crop_mode")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def compile_module(wrapper, example, method):
    """The TorchScript module, and how many tracer warnings were seen (shape-dependent
    Python control flow frozen at the traced size; the check below re-runs it)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", torch.jit.TracerWarning)
        try:
            if method == "trace":
                module = torch.jit.trace(wrapper, example, check_trace=False)
            else:
                module = torch.jit.script(wrapper)
        except Exception as error:  # scripting failures are many exception types
            raise BackboneError(f"torch.jit.{method} failed: {tb._first_line(error)}")
    return module, sum(1 for warning in seen if issubclass(warning.category, torch.jit.TracerWarning))


def write_module(module, path):
    """torch.jit.save through memory: saved to a path, the archive's folder inside the
    zip is named after that (temporary) file, and the same module hashes differently."""
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    with open(path, "wb") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # mkstemp made it 0600


def export(args):
    started = time.perf_counter()
    backbone = tb.build(args.model, args.weights, args.input_size, scriptable=args.method == "script",
                        cache_dir=args.hf_cache)
    model = backbone.model
    recipe = tb.data_config(model, args.input_size, recipe_overrides(args))
    _, height, width = recipe["input_size"]
    wrapper = tb.PreLogits(model).eval()
    generator = torch.Generator().manual_seed(CHECK_SEED)
    example = tb.synthetic_images(generator, TRACE_BATCH, height, width, recipe["mean"], recipe["std"])
    check = tb.synthetic_images(generator, CHECK_BATCH, height, width, recipe["mean"], recipe["std"])
    with torch.no_grad():
        try:
            eager = wrapper(check)
            whole = model(check)
        except Exception as error:
            raise BackboneError(f"{args.model} does not run at {height}x{width}: {tb._first_line(error)}", 2)
        if eager.ndim != 2 or eager.shape[0] != CHECK_BATCH:
            raise BackboneError(f"{args.model}: pre-logits features have shape {list(eager.shape)}, not [N, D]")
        _, whole_rel = tb.relative_difference(whole, eager)
        if whole.shape != eager.shape or whole_rel > TOLERANCE_REL:
            raise BackboneError(f"{args.model}: model(x) differs from forward_head(forward_features(x), "
                                f"pre_logits=True) by {whole_rel:.3g} relative; refusing to guess which is meant")
        module, tracer_warnings = compile_module(wrapper, example, args.method)

    out = os.path.abspath(args.out)
    folder = os.path.dirname(out)
    os.makedirs(folder, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(out)}.", suffix=".partial", dir=folder)
    os.close(descriptor)
    temporary_sidecar = temporary + ".json"
    try:
        write_module(module, temporary)
        reloaded = torch.jit.load(temporary, map_location="cpu")
        with torch.no_grad():
            try:
                exported = reloaded(check)
            except Exception as error:  # TorchScript raises its own error types
                raise BackboneError(f"saved module fails at batch {CHECK_BATCH}: {tb._first_line(error)}; "
                                    "nothing written")
        if exported.shape != eager.shape:
            raise BackboneError(f"saved module returns {list(exported.shape)} at batch {CHECK_BATCH}, eager "
                                f"{list(eager.shape)}; nothing written")
        max_abs, max_rel = tb.relative_difference(exported, eager)
        if not max_rel <= TOLERANCE_REL:
            raise BackboneError(f"saved module disagrees with the eager model at batch {CHECK_BATCH}: "
                                f"{max_rel:.3g} relative (max abs {max_abs:.3g}) > {TOLERANCE_REL:g}; nothing written")
        sidecar = {
            "format": FORMAT,
            "module": os.path.basename(out),
            "module_blake3": tb.blake3_file(temporary),
            "model": backbone.arch,
            "pretrained_tag": backbone.tag,
            "weights": {"spec": backbone.spec, "blake3": backbone.weights_blake3},
            "feature_dim": int(eager.shape[1]),
            "pooling": tb.pooling(model),
            "feature_layer": f"timm {backbone.arch}: forward_head(forward_features(x), pre_logits=True), "
                             f"global_pool={tb.pooling(model)}",
            "parameters": sum(parameter.numel() for parameter in reloaded.parameters()),
            "pretrained_cfg": recipe,
            "export": {
                "method": args.method,
                "traced_input": [TRACE_BATCH, 3, height, width] if args.method == "trace" else None,
                "check": {"batch": CHECK_BATCH, "max_abs_diff": max_abs, "max_rel_diff": max_rel,
                          "tolerance_rel": TOLERANCE_REL, "reference": "eager float32, same input"},
                "timm_version": timm.__version__,
                "torch_version": torch.__version__.split("+")[0],
                "created_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }
        with open(temporary_sidecar, "w", encoding="utf-8") as handle:
            json.dump(sidecar, handle, indent=2)
            handle.write("\n")
        # The module first: a new module beside an old sidecar fails its blake3 check.
        os.replace(temporary, out)
        os.replace(temporary_sidecar, out + ".json")
    finally:
        for leftover in (temporary, temporary_sidecar):
            if os.path.exists(leftover):
                os.remove(leftover)
    seconds = time.perf_counter() - started
    note = f", {tracer_warnings} tracer warnings" if tracer_warnings else ""
    print(f"{out}: {backbone.arch} ({backbone.spec}), {sidecar['feature_dim']} features, input {height}x{width}, "
          f"module vs eager {max_rel:.2g} relative at batch {CHECK_BATCH}{note}, {seconds:.1f} s")
    return sidecar


def main(argv=None):
    args = parse_args(argv)
    # torch 2.11 marks torch.jit.save/load deprecated; TorchScript is what effprobe reads.
    warnings.filterwarnings("ignore", message="`torch.jit.", category=DeprecationWarning)
    torch.set_grad_enabled(False)
    try:
        export(args)
    except BackboneError as error:
        print(f"export_backbone: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
