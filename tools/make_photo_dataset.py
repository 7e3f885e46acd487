#!/usr/bin/env python3
"""Makes a large, deterministic, photo-like JPEG dataset for benchmarks.

Decode cost depends on content, so the images are not flat colours: each one is
a smooth colour field (a coarse random grid, upsampled bicubically), a second
finer octave, a few hard-edged shapes, an oriented texture warped by low
frequencies, and per-pixel sensor noise, saved as JPEG at quality 85..95, at
sizes scattered around --size (some turned portrait). Classes lean a little
apart (texture orientation and tint), enough for a head to learn something;
that is secondary.

Image i is generated from the seed sequence (--seed, i) alone, so any subset,
any worker count and either output mode give the same bytes. Which class image
i belongs to is a seeded shuffle of the --counts, so classes are interleaved in
index order (and so across tar shards).

usage:
  make_photo_dataset.py OUT_DIR --counts 7617,15023 [--classes cats,dogs]
                        [--workers N] [--size 500x375] [--jitter 0.2] [--seed S]
                        [--tar-shards K]

Output (OUT_DIR must be empty or absent):
  flat (default)   OUT_DIR/CLASS/NNNNNN.jpg, the layout `extract` splits by hash
  --tar-shards K   OUT_DIR/shard-00000.tar .. shard-{K-1}.tar, WebDataset style:
                   per image the members NNNNNN.cls (the integer label, ASCII)
                   and NNNNNN.jpg, written with tarfile as webdataset's TarWriter
                   does (sorted extensions, mode 0444, user/group "bigdata"; a
                   fixed mtime so the shards are byte-identical across runs);
                   image i goes to shard i*K//N, classes.txt lists the labels.
Prints the count, the total size and the time taken.
"""
import argparse
import io
import math
import os
import sys
import tarfile
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw

MTIME = 1_700_000_000  # fixed tar member mtime: deterministic shards


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--counts", required=True,
                   help="images per class, comma-separated (the seed: 7617,15023)")
    p.add_argument("--classes", default="cats,dogs", help="class names, comma-separated (default cats,dogs)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes (default: every core)")
    p.add_argument("--size", default="500x375", help="typical WIDTHxHEIGHT (default 500x375)")
    p.add_argument("--jitter", type=float, default=0.2,
                   help="size spread: each side scaled by exp(U(-j, j)) (default 0.2)")
    p.add_argument("--portrait", type=float, default=0.2,
                   help="fraction of images turned portrait (default 0.2)")
    p.add_argument("--seed", type=int, default=20260512)
    p.add_argument("--tar-shards", type=int, default=0, metavar="K",
                   help="write K WebDataset tar shards instead of class folders")
    args = p.parse_args(argv)
    args.counts = [int(c) for c in args.counts.split(",")]
    args.classes = [c.strip() for c in args.classes.split(",")]
    if len(args.counts) != len(args.classes):
        p.error(f"--counts has {len(args.counts)} entries, --classes {len(args.classes)}")
    if any(c < 0 for c in args.counts) or sum(args.counts) == 0:
        p.error("--counts must be non-negative and not all zero")
    if len(set(args.classes)) != len(args.classes) or any(not c or "/" in c for c in args.classes):
        p.error("--classes must be distinct folder names")
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
        args.size = (w, h)
    except ValueError:
        p.error(f"--size {args.size}: expected WIDTHxHEIGHT")
    if args.tar_shards < 0 or args.tar_shards > sum(args.counts):
        p.error("--tar-shards must be between 1 and the number of images")
    args.workers = max(1, args.workers)
    return args


def labels_for(counts, seed):
    """Class of each image index: a seeded shuffle of the counts."""
    labels = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    return np.random.default_rng([seed, 0x5EED]).permutation(labels)


def upsampled(rng, cells, size, low, high, channels=3):
    """A coarse uniform random grid (cells = (w, h)), bicubically upsampled to size."""
    shape = (cells[1], cells[0], channels) if channels > 1 else (cells[1], cells[0])
    grid = rng.uniform(low, high, shape).astype(np.uint8)
    return Image.fromarray(grid, "RGB" if channels > 1 else "L").resize(size, Image.BICUBIC)


_noise = None


def noise_table():
    """Gaussian sensor noise (sigma 4, int8), the same in every process: an image
    takes windows of it at offsets from its own seed (cheaper than drawing)."""
    global _noise
    if _noise is None:
        _noise = np.clip(np.random.default_rng(0x0415E).normal(0, 4, 1 << 22).round(), -127, 127).astype(np.int8)
    return _noise


def make_image(seed, index, label, n_classes, size, jitter, portrait):
    """JPEG bytes of image `index`; depends only on (seed, index, label, sizes)."""
    rng = np.random.default_rng([seed, index])
    w = max(32, round(size[0] * math.exp(rng.uniform(-jitter, jitter))))
    h = max(32, round(size[1] * math.exp(rng.uniform(-jitter, jitter))))
    if rng.random() < portrait:
        w, h = h, w
    lean = label / max(1, n_classes - 1)  # 0 .. 1 across classes

    # Smooth colour field at quarter resolution: a coarse octave and a finer
    # one, tinted by class, desaturated (photos are), then upsampled.
    low = (max(8, w // 4), max(8, h // 4))
    field = np.asarray(upsampled(rng, (int(rng.integers(2, 6)), int(rng.integers(2, 5))), low, 30, 225), np.float32)
    field += np.asarray(upsampled(rng, (int(rng.integers(10, 24)), int(rng.integers(8, 18))), low, 0, 60), np.float32) - 30
    field += (lean - 0.5) * np.array([-18.0, 4.0, 18.0], dtype=np.float32)
    grey = field.mean(axis=2, keepdims=True)
    field = grey + (field - grey) * np.float32(rng.uniform(0.3, 0.8))
    canvas = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB").resize((w, h), Image.BICUBIC)

    # A few hard-edged shapes (object boundaries).
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 5))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.3) * h
        colour = tuple(int(v) for v in rng.integers(20, 236, 3))
        if rng.random() < 0.5:
            draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=colour)
        else:
            draw.polygon([(cx + rx * math.cos(a), cy + ry * math.sin(a))
                          for a in np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(3, 7))))], fill=colour)

    # Oriented texture (fur, grass, fabric): orientation leans by class, warped
    # by a low-frequency field, its amplitude varying over the image.
    angle = rng.normal(0.6 + 1.6 * lean, 0.45)
    k = np.float32(2 * math.pi / rng.uniform(3.0, 14.0))
    xs = np.arange(w, dtype=np.float32) * (k * np.float32(math.cos(angle)))
    ys = np.arange(h, dtype=np.float32)[:, None] * (k * np.float32(math.sin(angle)))
    warp = np.asarray(upsampled(rng, (6, 5), (w, h), 0, 255, channels=1), np.float32)
    phase = xs + ys + warp * np.float32(rng.uniform(0.02, 0.08))
    envelope = np.asarray(upsampled(rng, (4, 3), (w, h), 0, 255, channels=1), np.float32)
    texture = (np.sin(phase) * envelope * np.float32(rng.uniform(0.04, 0.12))).astype(np.int16)

    # Sensor noise: one or two windows of the shared table.
    image = np.asarray(canvas, np.int16) + texture[:, :, None]
    table = noise_table()
    for _ in range(int(rng.integers(1, 3))):
        offset = int(rng.integers(0, table.size - w * h * 3))
        image += table[offset:offset + w * h * 3].reshape(h, w, 3)
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=int(rng.integers(85, 96)))
    return buffer.getvalue()


# Worker state, set once per process.
_job = {}


def _init(job):
    _job.update(job)


def _name(index):
    return f"{index:0{_job['digits']}d}"


def _flat(indices):
    written = 0
    for index in indices:
        label = int(_job["labels"][index])
        data = make_image(_job["seed"], index, label, len(_job["classes"]), _job["size"], _job["jitter"], _job["portrait"])
        with open(os.path.join(_job["out"], _job["classes"][label], _name(index) + ".jpg"), "wb") as f:
            f.write(data)
        written += len(data)
    return len(indices), written


def _encoded(indices):
    return [(index, make_image(_job["seed"], index, int(_job["labels"][index]), len(_job["classes"]),
                               _job["size"], _job["jitter"], _job["portrait"])) for index in indices]


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = MTIME
    info.mode = 0o444
    info.uname = info.gname = "bigdata"
    tar.addfile(info, io.BytesIO(data))


def main(argv):
    args = parse_args(argv)
    began = time.perf_counter()
    total = sum(args.counts)
    labels = labels_for(args.counts, args.seed)
    if os.path.isdir(args.out_dir) and os.listdir(args.out_dir):
        sys.exit(f"make_photo_dataset: {args.out_dir} is not empty")
    os.makedirs(args.out_dir, exist_ok=True)
    job = dict(out=args.out_dir, labels=labels, classes=args.classes, seed=args.seed, size=args.size,
               jitter=args.jitter, portrait=args.portrait, digits=max(6, len(str(total - 1))))
    chunk = 32
    chunks = [range(start, min(start + chunk, total)) for start in range(0, total, chunk)]
    written = 0
    with Pool(args.workers, initializer=_init, initargs=(job,)) as pool:
        if not args.tar_shards:
            for name in args.classes:
                os.makedirs(os.path.join(args.out_dir, name), exist_ok=True)
            for _, size in pool.imap_unordered(_flat, chunks):
                written += size
        else:
            _init(job)
            shard_of = lambda i: i * args.tar_shards // total  # noqa: E731
            tar, current = None, -1
            for batch in pool.imap(_encoded, chunks):  # in index order
                for index, data in batch:
                    if shard_of(index) != current:
                        if tar:
                            tar.close()
                        current = shard_of(index)
                        tar = tarfile.open(os.path.join(args.out_dir, f"shard-{current:05d}.tar"), "w")
                    _add(tar, _name(index) + ".cls", str(int(labels[index])).encode("ascii"))
                    _add(tar, _name(index) + ".jpg", data)
                    written += len(data)
            tar.close()
            with open(os.path.join(args.out_dir, "classes.txt"), "w") as f:
                f.write("".join(f"{i} {c}\n" for i, c in enumerate(args.classes)))
    seconds = time.perf_counter() - began
    where = f"{args.tar_shards} tar shards" if args.tar_shards else "class folders"
    per_class = ", ".join(f"{c} {n}" for c, n in zip(args.classes, args.counts))
    print(f"make_photo_dataset: {total} images ({per_class}) in {where} under {args.out_dir}: "
          f"{written / 1e6:.1f} MB of JPEG, {seconds:.1f} s with {args.workers} workers")


if __name__ == "__main__":
    main(sys.argv[1:])
