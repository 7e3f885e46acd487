"""Lays out a Hugging Face hub cache entry exactly as `huggingface-cli download` would,
with the files timm's own `save_for_hf` writes (random weights, real config).

usage: hub_cache_layout.py CACHE_DIR MODEL_NAME   (e.g. timm/efficientnet_b0.ra_in1k)
"""
import os
import sys
import tempfile

import timm
from timm.models._hub import save_for_hf

cache, name = sys.argv[1:3]
architecture_and_tag = name.split("/", 1)[1]
model = timm.create_model(architecture_and_tag, pretrained=False)
revision = "0123456789abcdef0123456789abcdef01234567"
repo = os.path.join(cache, "models--" + name.replace("/", "--"))
snapshot = os.path.join(repo, "snapshots", revision)
blobs = os.path.join(repo, "blobs")
os.makedirs(snapshot)
os.makedirs(blobs)
os.makedirs(os.path.join(repo, "refs"))
with open(os.path.join(repo, "refs", "main"), "w") as ref:
    ref.write(revision)
with tempfile.TemporaryDirectory() as staging:
    save_for_hf(model, staging, safe_serialization=True)
    # The hub cache keeps content in blobs/ and symlinks it from the snapshot.
    for file_name in os.listdir(staging):
        blob = os.path.join(blobs, f"blob-{file_name}")
        os.replace(os.path.join(staging, file_name), blob)
        os.symlink(os.path.relpath(blob, snapshot), os.path.join(snapshot, file_name))
print(sorted(os.listdir(snapshot)))
