"""Writes images of every awkward kind, with PIL's own RGB decode of each.

usage: odd_images.py OUTDIR
For each NAME it writes OUTDIR/NAME (the image) and OUTDIR/NAME.rgb (PIL's
`exif_transpose(...).convert("RGB")` bytes), and prints a JSON manifest.
"""
import io
import json
import sys

import numpy as np
from PIL import Image, ImageOps

out = sys.argv[1]
rng = np.random.default_rng(7)
# Smooth content so lossy codecs stay close to the source.
y, x = np.mgrid[0:48, 0:64]
rgb = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)
base = Image.fromarray(rgb, "RGB")

images = {
    "gray.png": base.convert("L"),
    "gray_alpha.png": base.convert("LA"),
    "palette.png": base.convert("P", palette=Image.ADAPTIVE, colors=64),
    "rgba.png": base.convert("RGBA"),
    "gray.jpg": base.convert("L"),
    "cmyk.jpg": base.convert("CMYK"),
    "plain.bmp": base,
    "plain.tiff": base,
    "lossless.webp": base,
}
manifest = []
for name, image in images.items():
    path = f"{out}/{name}"
    options = {"quality": 95} if name.endswith(".jpg") else {}
    if name.endswith(".webp"):
        options = {"lossless": True}
    image.save(path, **options)
    manifest.append(name)

# 16-bit RGB PNG: PIL cannot write one, so write it through the raw PNG path
# with numpy and zlib.
import struct
import zlib

rgb16 = (rgb.astype(np.uint16) * 257 + rng.integers(0, 200, rgb.shape)).astype(">u2")
raw = b"".join(b"\x00" + row.tobytes() for row in rgb16)
def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 16, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(f"{out}/rgb16.png", "wb").write(png)
manifest.append("rgb16.png")

# EXIF orientation 6: the stored pixels must be rotated 90° clockwise to display.
exif = Image.Exif()
exif[0x0112] = 6
base.save(f"{out}/exif_rotated.jpg", quality=95, exif=exif.tobytes())
manifest.append("exif_rotated.jpg")

# An animated GIF: the first frame is the image.
frames = [base.convert("P", palette=Image.ADAPTIVE), Image.new("RGB", (64, 48), (255, 0, 0)).convert("P")]
frames[0].save(f"{out}/animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
manifest.append("animated.gif")

entries = []
for name in manifest:
    with Image.open(f"{out}/{name}") as image:
        reference = ImageOps.exif_transpose(image).convert("RGB")
        reference.save(f"{out}/{name}.rgb.png")
        np.asarray(reference, dtype=np.uint8).tofile(f"{out}/{name}.rgb")
        entries.append({"name": name, "mode": image.mode, "width": reference.width, "height": reference.height})
print(json.dumps(entries))
