"""Reference preprocessing with PIL + torchvision / timm, compared with effprobe's bytes.

usage: reference_preprocess.py JOB_JSON
JOB_JSON names the images and the cases:
  {"root": DIR, "paths": [relative path, ...],
   "cases": [{"name": ..., "height": H, "width": W, "ours": BIN, "reference": REF}, ...]}
BIN holds our HWC uint8 inputs, one per path in order. REF is either
  {"torchvision": RECIPE}  (the recipe JSON: Resize(resize_size) + CenterCrop, or
                            Resize((size, size)) for stretch), or
  {"timm": {"img_size": [H, W], "crop_pct": ..., "crop_mode": ..., "interpolation": ...}}
                           (timm's own transforms_imagenet_eval, up to the tensor).
Each image is opened once for all cases. Prints a JSON list of per-case
statistics of the per-pixel differences, and each image's largest difference
("worst_by_path").
"""
import json
import sys

import numpy as np
from PIL import Image, ImageOps
from timm.data.transforms_factory import transforms_imagenet_eval
from torchvision import transforms
from torchvision.transforms import InterpolationMode

INTERPOLATION = {
    "nearest": InterpolationMode.NEAREST,
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
}


def torchvision_transform(recipe):
    size = recipe["input_size"]
    interpolation = INTERPOLATION[recipe["interpolation"]]
    if recipe["resize_mode"] == "crop":
        return transforms.Compose([
            transforms.Resize(recipe["resize_size"], interpolation=interpolation),
            transforms.CenterCrop(size),
        ])
    assert recipe["resize_mode"] == "stretch", recipe
    return transforms.Resize((size, size), interpolation=interpolation)


def timm_transform(cfg):
    # use_prefetcher stops at the uint8 tensor (MaybePILToTensor): no scaling,
    # no normalisation, exactly the pixels the model's normalisation starts from.
    transform = transforms_imagenet_eval(
        img_size=tuple(cfg["img_size"]),
        crop_pct=cfg["crop_pct"],
        crop_mode=cfg["crop_mode"],
        interpolation=cfg["interpolation"],
        use_prefetcher=True,
    )
    return lambda image: transform(image).permute(1, 2, 0).numpy()


def reference_transform(reference):
    if "timm" in reference:
        return timm_transform(reference["timm"])
    return torchvision_transform(reference["torchvision"])


job = json.load(open(sys.argv[1]))
paths = job["paths"]
cases = []
for case in job["cases"]:
    shape = (len(paths), case["height"], case["width"], 3)
    cases.append({
        "name": case["name"],
        "transform": reference_transform(case["reference"]),
        "ours": np.fromfile(case["ours"], dtype=np.uint8).reshape(shape),
        "worst": [], "total": 0.0, "differing": 0, "over_two": 0, "count": 0,
    })

for index, path in enumerate(paths):
    with Image.open(f"{job['root']}/{path}") as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        for case in cases:
            reference = np.asarray(case["transform"](image), dtype=np.int16)
            ours = case["ours"][index].astype(np.int16)
            assert reference.shape == ours.shape, (path, case["name"], reference.shape, ours.shape)
            diff = np.abs(reference - ours)
            case["worst"].append(int(diff.max()))
            case["total"] += float(diff.sum())
            case["differing"] += int((diff > 0).sum())
            case["over_two"] += int((diff > 2).sum())
            case["count"] += diff.size

print(json.dumps([{
    "name": case["name"],
    "images": len(paths),
    "max_abs": max(case["worst"]),
    "mean_abs": case["total"] / case["count"],
    "fraction_differing": case["differing"] / case["count"],
    "fraction_over_2": case["over_two"] / case["count"],
    "images_with_max_over_2": sum(1 for w in case["worst"] if w > 2),
    "worst_by_path": dict(zip(paths, case["worst"])),
} for case in cases]))
