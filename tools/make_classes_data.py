#!/usr/bin/env python3
"""Generates a small ten-class image dataset, deterministically, for the
many-class report test (tests/compare.rs) and for trying effprobe on more than
two classes.

Each image holds one target shape among clutter, and the class is the
target's shape:
  triangle square pentagon hexagon circle star cross ring crescent arrow
at a random size, rotation, colour and place, on a textured gradient with
4..9 distractors (small discs and strokes), then blur, noise and JPEG
compression. A frozen ImageNet backbone separates most of them and confuses
some (the polygons with many sides with the circle), so the per-class scores
and the confusion matrix have something to show.

Folder layout with explicit splits: OUT/{train,val,test}/CLASS/CLASS_NNNN.jpg.
Images come from a seed per (class, index), so the output does not depend on
the order or the number of worker processes. `--absent-from-test CLASS` leaves
that class without test images (a class a split lacks, as small datasets do).

usage: make_classes_data.py OUT_DIR [--train 16] [--val 4] [--test 6]
                            [--size 128] [--absent-from-test CLASS]
"""
import argparse
import math
import os
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ("triangle", "square", "pentagon", "hexagon", "circle", "star", "cross", "ring", "crescent", "arrow")
SEED = 20261205


def background(rng, size):
    """A smooth two-colour gradient with low-frequency blotches and grain."""
    a, b = rng.integers(30, 226, (2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:size, 0:size] / size
    t = (np.cos(angle) * x + np.sin(angle) * y + 1) / 2
    image = a[None, None] * (1 - t[..., None]) + b[None, None] * t[..., None]
    blotches = rng.normal(0, 20, (5, 5, 3))
    blotches = np.asarray(Image.fromarray(np.uint8(np.clip(blotches + 128, 0, 255))).resize((size, size), Image.BICUBIC), float) - 128
    grain = rng.normal(0, rng.uniform(3, 10), (size, size, 3))
    return Image.fromarray(np.uint8(np.clip(image + blotches + grain, 0, 255)), "RGB")


def colour(rng):
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def distractors(rng, draw, size):
    for _ in range(rng.integers(4, 10)):
        x, y = rng.uniform(0, size, 2)
        if rng.uniform() < 0.5:
            r = rng.uniform(2, size / 16)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour(rng))
        else:
            angle, length = rng.uniform(0, math.pi), rng.uniform(size / 12, size / 4)
            dx, dy = length * math.cos(angle) / 2, length * math.sin(angle) / 2
            draw.line((x - dx, y - dy, x + dx, y + dy), fill=colour(rng), width=int(rng.integers(1, 3)))


def polygon(cx, cy, radius, turn, sides):
    return [(cx + radius * math.cos(turn + 2 * math.pi * k / sides), cy + radius * math.sin(turn + 2 * math.pi * k / sides)) for k in range(sides)]


def rotated(points, cx, cy, turn):
    c, s = math.cos(turn), math.sin(turn)
    return [(cx + (x * c - y * s), cy + (x * s + y * c)) for x, y in points]


def target(rng, draw, shape, size, background_colour):
    radius = size * rng.uniform(0.17, 0.3)
    margin = radius + 2
    cx, cy = rng.uniform(margin, size - margin, 2)
    turn = rng.uniform(0, 2 * math.pi)
    fill = colour(rng)
    sides = {"triangle": 3, "square": 4, "pentagon": 5, "hexagon": 6}
    if shape in sides:
        draw.polygon(polygon(cx, cy, radius, turn, sides[shape]), fill=fill)
    elif shape == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    elif shape == "star":
        points = [(cx + (radius if k % 2 == 0 else radius * 0.45) * math.cos(turn + math.pi * k / 5),
                   cy + (radius if k % 2 == 0 else radius * 0.45) * math.sin(turn + math.pi * k / 5)) for k in range(10)]
        draw.polygon(points, fill=fill)
    elif shape == "cross":
        w = radius * 0.35
        arm = [(-radius, -w), (radius, -w), (radius, w), (-radius, w)]
        draw.polygon(rotated(arm, cx, cy, turn), fill=fill)
        draw.polygon(rotated(arm, cx, cy, turn + math.pi / 2), fill=fill)
    elif shape == "ring":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
        inner = radius * 0.55
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=background_colour)
    elif shape == "crescent":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
        ox, oy = cx + radius * 0.5 * math.cos(turn), cy + radius * 0.5 * math.sin(turn)
        draw.ellipse((ox - radius * 0.9, oy - radius * 0.9, ox + radius * 0.9, oy + radius * 0.9), fill=background_colour)
    elif shape == "arrow":
        w = radius * 0.22
        points = [(-radius, -w), (radius * 0.2, -w), (radius * 0.2, -2.2 * w), (radius, 0),
                  (radius * 0.2, 2.2 * w), (radius * 0.2, w), (-radius, w)]
        draw.polygon(rotated(points, cx, cy, turn), fill=fill)


def image(shape, index, size):
    rng = np.random.default_rng([SEED, CLASSES.index(shape), index])
    picture = background(rng, size)
    behind = picture.getpixel((size // 2, size // 2))
    draw = ImageDraw.Draw(picture)
    distractors(rng, draw, size)
    target(rng, draw, shape, size, behind)
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.8)))
    noisy = np.asarray(picture, float) + rng.normal(0, rng.uniform(2, 8), (size, size, 3))
    return Image.fromarray(np.uint8(np.clip(noisy, 0, 255)), "RGB"), int(rng.integers(82, 93))


def write(job):
    out, split, shape, index, size = job
    picture, quality = image(shape, index, size)
    picture.save(os.path.join(out, split, shape, f"{shape}_{index:04d}.jpg"), quality=quality)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--train", type=int, default=16, help="images per class in train (default 16)")
    parser.add_argument("--val", type=int, default=4, help="images per class in val (default 4)")
    parser.add_argument("--test", type=int, default=6, help="images per class in test (default 6)")
    parser.add_argument("--size", type=int, default=128, help="side of the square images in pixels (default 128)")
    parser.add_argument("--absent-from-test", choices=CLASSES, help="a class given no test image")
    args = parser.parse_args()
    jobs = []
    index = 0
    for split, count in (("train", args.train), ("val", args.val), ("test", args.test)):
        for shape in CLASSES:
            if split == "test" and shape == args.absent_from_test:
                continue
            os.makedirs(os.path.join(args.out, split, shape), exist_ok=True)
            jobs += [(args.out, split, shape, split_index, args.size)
                     for split_index in range(index, index + count)]
        index += count
    with Pool() as pool:
        pool.map(write, jobs, chunksize=8)
    print(f"{args.out}: {len(jobs)} images, {len(CLASSES)} classes")


if __name__ == "__main__":
    main()
