"""Reference preprocessing with PIL + torchvision, compared with effprobe's bytes.

usage: reference_preprocess.py ROOT LIST RECIPE_JSON OURS_BIN
LIST has one relative path per line; OURS_BIN holds our HWC uint8 crops in the
same order. Prints JSON statistics of the per-pixel differences.
"""
import json
import sys

import numpy as np
from PIL import Image, ImageOps
from torchvision import transforms
from torchvision.transforms import InterpolationMode

root, listing, recipe_json, ours_bin = sys.argv[1:5]
recipe = json.loads(recipe_json)
paths = [line for line in open(listing).read().splitlines() if line]
size = recipe["input_size"]
interpolation = {
    "nearest": InterpolationMode.NEAREST,
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
}[recipe["interpolation"]]
if recipe["resize_mode"] == "crop":
    transform = transforms.Compose([
        transforms.Resize(recipe["resize_size"], interpolation=interpolation),
        transforms.CenterCrop(size),
    ])
else:
    transform = transforms.Resize((size, size), interpolation=interpolation)

ours = np.fromfile(ours_bin, dtype=np.uint8).reshape(len(paths), size, size, 3)
worst, total, differing, over_two, count = 0, 0.0, 0, 0, 0
per_image_worst = []
for index, path in enumerate(paths):
    with Image.open(f"{root}/{path}") as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        reference = np.asarray(transform(image), dtype=np.int16)
    diff = np.abs(reference - ours[index].astype(np.int16))
    worst = max(worst, int(diff.max()))
    per_image_worst.append(int(diff.max()))
    total += float(diff.sum())
    differing += int((diff > 0).sum())
    over_two += int((diff > 2).sum())
    count += diff.size
print(json.dumps({
    "images": len(paths),
    "max_abs": worst,
    "mean_abs": total / count,
    "fraction_differing": differing / count,
    "fraction_over_2": over_two / count,
    "images_with_max_over_2": sum(1 for w in per_image_worst if w > 2),
}))
