#!/usr/bin/env python3
"""timm's own features for an exported backbone: the reference effprobe's TorchScript
backend is judged against (crates/backbone conformance tests).

The eager timm model is rebuilt from the sidecar (NAME.pt.json, format
effprobe-backbone/1) exactly as tools/export_backbone.py built it: the architecture
and recipe tag (`model`, `pretrained_tag`), the weights spec (`weights.spec`: random:SEED,
hf:OWNER/NAME from the local Hugging Face cache, or file:PATH) and the input size. The
rebuilt weights' blake3 must equal the sidecar's `weights.blake3`. The TorchScript module
itself is not used: this is the eager model.

Two commands; both write a safetensors file with `features` [N, D] float32 (and with
--float64 also `features_float64` [N, D] float64: the eager model run in float64) and
string metadata (`sidecar`, `model`, `weights`, `recipe` as JSON, ...):

  images  SIDECAR --out OUT.safetensors (IMAGE ... | --list FILE)
          End to end with timm's own transform: `timm.data.resolve_data_config(
          args=RECIPE, model=model)` + `timm.data.create_transform(**cfg)` (eval), where
          RECIPE is the sidecar's pretrained_cfg (equal to timm's own resolution unless
          the export overrode it; `recipe_overridden` in the metadata says which keys
          differ from timm's), each image opened with PIL and `.convert("RGB")` as timm's
          datasets do. --list FILE reads one path per line. Metadata `images` is the JSON
          list of the paths, in the order of the feature rows, as given.

  pixels  SIDECAR --pixels PIXELS.safetensors --out OUT.safetensors [--tensor NAME]
          The eager model on exactly the given normalised pixels: a float32 tensor
          [N, 3, H, W] at the recipe's input size (the only tensor in the file, or NAME).

Common flags: --batch-size N (default 8), --threads N (default: torch's),
--float64 (also write `features_float64`), --hf-cache DIR (the Hugging Face cache for
hf: weights; default as huggingface_hub resolves it).

Exit status: 0 written; 1 any failure (named file and reason on stderr).

    python crates/backbone/tests/python/timm_reference.py images exports/convnext_tiny.pt.json \\
        --out /tmp/ref.safetensors ../shared/datasets/hymenoptera/val/ants/*.jpg
    python crates/backbone/tests/python/timm_reference.py pixels exports/convnext_tiny.pt.json \\
        --pixels /tmp/pixels.safetensors --out /tmp/ref.safetensors --float64
"""
import argparse
import copy
import json
import os
import sys

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(REPOSITORY, "tools"))
import timm_backbone as tb  # noqa: E402  (sets HF_HUB_OFFLINE before timm loads)

import timm  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

RECIPE_KEYS = ("input_size", "interpolation", "crop_pct", "crop_mode", "mean", "std")


def fail(message):
    print(f"timm_reference: {message}", file=sys.stderr)
    sys.exit(1)


def read_sidecar(path):
    try:
        with open(path, encoding="utf-8") as handle:
            sidecar = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        fail(f"{path}: cannot read the sidecar ({error})")
    if sidecar.get("format") != "effprobe-backbone/1":
        fail(f"{path}: format {sidecar.get('format')!r}, expected 'effprobe-backbone/1'")
    return sidecar


def rebuild(sidecar, sidecar_path, cache_dir):
    """The eager model the module was exported from, with the same tensors."""
    name = f"{sidecar['model']}.{sidecar['pretrained_tag']}" if sidecar.get("pretrained_tag") else sidecar["model"]
    spec = sidecar["weights"]["spec"]
    if spec.startswith("file:"):
        spec = spec[len("file:"):]
    _, height, width = sidecar["pretrained_cfg"]["input_size"]
    try:
        backbone = tb.build(name, spec, (height, width), cache_dir=cache_dir)
    except tb.BackboneError as error:
        fail(f"{sidecar_path}: cannot rebuild {name} from {spec}: {error}")
    if backbone.weights_blake3 != sidecar["weights"]["blake3"]:
        fail(f"{sidecar_path}: {spec} now hashes to {backbone.weights_blake3}, the sidecar says "
             f"{sidecar['weights']['blake3']}: not the weights the module was exported with")
    return backbone


def timm_transform(model, sidecar):
    recipe = {key: sidecar["pretrained_cfg"][key] for key in RECIPE_KEYS}
    recipe["input_size"] = tuple(recipe["input_size"])
    timm_own = timm.data.resolve_data_config(model=model)
    overridden = sorted(key for key in RECIPE_KEYS if _differs(timm_own[key], recipe[key]))
    cfg = timm.data.resolve_data_config(args=recipe, model=model)
    return timm.data.create_transform(**cfg), cfg, overridden


def _differs(a, b):
    if isinstance(a, (tuple, list)):
        return len(a) != len(b) or any(_differs(x, y) for x, y in zip(a, b))
    return a != b


def forward(model, pixels, batch_size, float64):
    model64 = copy.deepcopy(model).double() if float64 else None
    rows, rows64 = [], []
    with torch.no_grad():
        for start in range(0, pixels.shape[0], batch_size):
            chunk = pixels[start:start + batch_size]
            rows.append(model(chunk.float()))
            if model64 is not None:
                rows64.append(model64(chunk.double()))
    tensors = {"features": torch.cat(rows).float().contiguous()}
    if model64 is not None:
        tensors["features_float64"] = torch.cat(rows64).contiguous()
    return tensors


def load_images(paths, transform):
    pixels = []
    for path in paths:
        try:
            with Image.open(path) as image:
                pixels.append(transform(image.convert("RGB")))
        except Exception as error:  # PIL raises many types for unreadable files
            fail(f"{path}: cannot read the image ({type(error).__name__}: {error})")
    return torch.stack(pixels)


def load_pixels(path, name):
    try:
        with safe_open(path, "pt") as handle:
            names = list(handle.keys())
            if name is None:
                if len(names) != 1:
                    fail(f"{path}: holds {len(names)} tensors ({', '.join(names[:5])}); say which with --tensor")
                name = names[0]
            if name not in names:
                fail(f"{path}: no tensor {name!r} (has {', '.join(names[:5])})")
            return handle.get_tensor(name)
    except OSError as error:
        fail(f"{path}: cannot read ({error})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    images = commands.add_parser("images", help="timm's transform + eager model on image files")
    pixels = commands.add_parser("pixels", help="the eager model on given normalised pixels")
    for command in (images, pixels):
        command.add_argument("sidecar", metavar="SIDECAR")
        command.add_argument("--out", required=True, metavar="OUT.safetensors")
        command.add_argument("--batch-size", type=int, default=8)
        command.add_argument("--threads", type=int)
        command.add_argument("--float64", action="store_true", help="also write features_float64")
        command.add_argument("--hf-cache", metavar="DIR", help="the Hugging Face cache folder (hf: weights)")
    images.add_argument("paths", nargs="*", metavar="IMAGE")
    images.add_argument("--list", metavar="FILE", help="one image path per line")
    pixels.add_argument("--pixels", required=True, metavar="PIXELS.safetensors")
    pixels.add_argument("--tensor", metavar="NAME")
    # argparse gives a '*' positional only the words before the first option; image
    # paths after --out arrive as leftovers and are taken here.
    args, leftovers = parser.parse_known_args()
    stray = [word for word in leftovers if word.startswith("-") or args.command != "images"]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if args.command == "images":
        args.paths += leftovers
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    sidecar = read_sidecar(args.sidecar)
    backbone = rebuild(sidecar, args.sidecar, args.hf_cache)
    _, height, width = sidecar["pretrained_cfg"]["input_size"]
    metadata = {
        "sidecar": os.path.abspath(args.sidecar),
        "model": backbone.name,
        "weights": json.dumps(sidecar["weights"]),
        "reference": "timm eager model, " + ("float32 and float64" if args.float64 else "float32"),
        "timm_version": timm.__version__,
        "torch_version": torch.__version__.split("+")[0],
    }
    if args.command == "images":
        paths = list(args.paths)
        if args.list:
            try:
                with open(args.list, encoding="utf-8") as handle:
                    paths += [line.strip() for line in handle if line.strip()]
            except OSError as error:
                fail(f"{args.list}: cannot read the image list ({error})")
        if not paths:
            parser.error("images: no image paths (give IMAGE ... or --list FILE)")
        transform, cfg, overridden = timm_transform(backbone.model, sidecar)
        batch = load_images(paths, transform)
        metadata.update(images=json.dumps(paths), transform=repr(transform).replace("\n", " "),
                        recipe=json.dumps({key: list(v) if isinstance(v, tuple) else v for key, v in cfg.items()}),
                        recipe_overridden=json.dumps(overridden))
    else:
        batch = load_pixels(args.pixels, args.tensor)
        if batch.ndim != 4 or batch.shape[1] != 3 or tuple(batch.shape[2:]) != (height, width):
            fail(f"{args.pixels}: pixels of shape {list(batch.shape)}, the recipe needs [N, 3, {height}, {width}]")
        if batch.dtype != torch.float32:
            fail(f"{args.pixels}: pixels are {batch.dtype}, expected float32")
        metadata["pixels"] = os.path.abspath(args.pixels)
    tensors = forward(backbone.model, batch, args.batch_size, args.float64)
    if tensors["features"].shape[1] != sidecar["feature_dim"]:
        fail(f"{args.sidecar}: the eager model gives {tensors['features'].shape[1]} features, "
             f"the sidecar says {sidecar['feature_dim']}")
    folder = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    temporary = args.out + ".partial"
    save_file(tensors, temporary, metadata=metadata)
    os.replace(temporary, args.out)
    print(f"{args.out}: {tensors['features'].shape[0]} x {tensors['features'].shape[1]} features of "
          f"{backbone.name} ({sidecar['weights']['spec']})")


if __name__ == "__main__":
    main()
