#!/usr/bin/env python3
"""Generates effprobe's embedded default dataset, deterministically.

Two visually distinct classes on varied textured backgrounds, in the flat
ROOT/CLASS/*.jpg layout (effprobe splits it by content hash):
  discs    one to three filled discs
  stripes  parallel bands at a random angle
usage: make_sample_data.py OUT_DIR [PER_CLASS]   (default 200 per class, ~3 MB)
"""
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

out = sys.argv[1]
per_class = int(sys.argv[2]) if len(sys.argv) > 2 else 200
rng = np.random.default_rng(20261128)
SIZE = 160


def background():
    base = rng.integers(40, 215, 3)
    noise = rng.normal(0, 18, (SIZE // 8, SIZE // 8, 3))
    texture = np.clip(base + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(texture, "RGB").resize((SIZE, SIZE), Image.BICUBIC)


def colour():
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def discs(image):
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(1, 4)):
        r = int(rng.integers(14, 45))
        x, y = (int(v) for v in rng.integers(r, SIZE - r, 2))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour())
    return image


def stripes(image):
    draw = ImageDraw.Draw(image)
    angle = rng.uniform(0, math.pi)
    period = int(rng.integers(14, 36))
    width = max(3, int(period * rng.uniform(0.3, 0.6)))
    ink = colour()
    dx, dy = math.cos(angle), math.sin(angle)
    for offset in range(-2 * SIZE, 2 * SIZE, period):
        cx, cy = SIZE / 2 + offset * -dy, SIZE / 2 + offset * dx
        draw.line((cx - 2 * SIZE * dx, cy - 2 * SIZE * dy, cx + 2 * SIZE * dx, cy + 2 * SIZE * dy), fill=ink, width=width)
    return image


for name, draw in (("discs", discs), ("stripes", stripes)):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    for index in range(per_class):
        image = draw(background()).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
        image.save(os.path.join(out, name, f"{name}_{index:04d}.jpg"), quality=85)
print(f"{out}: {2 * per_class} images")
