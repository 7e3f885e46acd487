#!/usr/bin/env python3
"""Generates effprobe's embedded default dataset, deterministically.

A fine-grained task a frozen backbone only partly solves, so the demo ranks
models instead of giving every one accuracy 1.0: each image holds one target
shape among clutter, and the class is the target's shape.
  triangle   one filled triangle
  square     one filled square
Both of equal area (a 22..38 px square's on 224 px), at a random rotation,
colour and place, on a textured gradient with 6..14 distractors (discs,
ellipses, strokes) that may overlap it, then colour jitter, blur, noise and JPEG
compression. Pretrained Lite0..Lite2 land between about 0.8 and 0.95 accuracy
(scikit-learn's logistic regression, 5-fold, on 400 images per class).

Images are generated from a seed per (class, index), so the output does not
depend on the order or the number of worker processes. The flat ROOT/CLASS/*.jpg
layout is split by effprobe by content hash.

usage: make_sample_data.py OUT_DIR [PER_CLASS]   (default 400 per class, ~6 MB)
       [--size-range LOW,HIGH]                   (the target's size in pixels)
"""
import argparse
import math
import os
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

SIZE = 224
CLASSES = ("triangle", "square")
SEED = 20261202


def background(rng):
    """A smooth two-colour gradient with low-frequency blotches and grain."""
    a, b = rng.integers(30, 226, (2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    t = (np.cos(angle) * x + np.sin(angle) * y + 1) / 2
    image = a[None, None] * (1 - t[..., None]) + b[None, None] * t[..., None]
    blotches = rng.normal(0, 22, (7, 7, 3))
    blotches = np.asarray(Image.fromarray(np.uint8(np.clip(blotches + 128, 0, 255))).resize((SIZE, SIZE), Image.BICUBIC), float) - 128
    grain = rng.normal(0, rng.uniform(4, 14), (SIZE, SIZE, 3))
    return Image.fromarray(np.uint8(np.clip(image + blotches + grain, 0, 255)), "RGB")


def colour(rng):
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def distractors(rng, draw):
    for _ in range(rng.integers(6, 15)):
        kind = rng.integers(0, 3)
        x, y = rng.uniform(0, SIZE, 2)
        if kind == 0:
            r = rng.uniform(4, 20)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour(rng))
        elif kind == 1:
            rx, ry = rng.uniform(4, 22, 2)
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=colour(rng))
        else:
            angle, length = rng.uniform(0, math.pi), rng.uniform(15, 60)
            dx, dy = length * math.cos(angle) / 2, length * math.sin(angle) / 2
            draw.line((x - dx, y - dy, x + dx, y + dy), fill=colour(rng), width=int(rng.integers(1, 4)))


def target(rng, draw, shape, size_range):
    """A regular polygon of the class's shape, equal area for both classes."""
    sides = 3 if shape == "triangle" else 4
    size = rng.uniform(*size_range)
    # Circumradius giving the polygon the area of a size x size square.
    radius = size * math.sqrt(2 / (sides * math.sin(2 * math.pi / sides)))
    margin = radius + 2
    cx, cy = rng.uniform(margin, SIZE - margin, 2)
    turn = rng.uniform(0, 2 * math.pi)
    points = [(cx + radius * math.cos(turn + 2 * math.pi * k / sides), cy + radius * math.sin(turn + 2 * math.pi * k / sides)) for k in range(sides)]
    draw.polygon(points, fill=colour(rng))


def image(shape, index, size_range):
    rng = np.random.default_rng([SEED, CLASSES.index(shape), index])
    picture = background(rng)
    draw = ImageDraw.Draw(picture)
    # The target goes among the distractors, so some overlap it.
    distractors(rng, draw)
    target(rng, draw, shape, size_range)
    if rng.uniform() < 0.3:
        distractors(rng, draw)
    picture = ImageEnhance.Color(picture).enhance(rng.uniform(0.6, 1.4))
    picture = ImageEnhance.Brightness(picture).enhance(rng.uniform(0.75, 1.25))
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    noisy = np.asarray(picture, float) + rng.normal(0, rng.uniform(2, 10), (SIZE, SIZE, 3))
    return Image.fromarray(np.uint8(np.clip(noisy, 0, 255)), "RGB"), int(rng.integers(82, 93))


def write(job):
    out, shape, index, size_range = job
    picture, quality = image(shape, index, size_range)
    picture.save(os.path.join(out, shape, f"{shape}_{index:04d}.jpg"), quality=quality)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("per_class", nargs="?", type=int, default=400)
    parser.add_argument("--size-range", default="22,38", help="the target's size in pixels, LOW,HIGH")
    args = parser.parse_args()
    size_range = tuple(float(v) for v in args.size_range.split(","))
    for shape in CLASSES:
        os.makedirs(os.path.join(args.out, shape), exist_ok=True)
    jobs = [(args.out, shape, i, size_range) for shape in CLASSES for i in range(args.per_class)]
    with Pool() as pool:
        pool.map(write, jobs, chunksize=16)
    print(f"{args.out}: {len(jobs)} images")


if __name__ == "__main__":
    main()
