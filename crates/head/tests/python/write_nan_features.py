"""Writes a small effprobe feature file (pyarrow, the format's metadata keys)
whose third row holds a NaN, which no Rust writer would produce.

usage: write_nan_features.py OUT.parquet
"""
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

dim = 4
x = np.ones((6, dim), dtype=np.float32)
x[2, 1] = np.nan
labels = [0, 1, 0, 1, 0, 1]
names = ["ants" if l == 0 else "bees" for l in labels]
splits = ["train", "train", "train", "train", "val", "val"]
table = pa.table({
    "key": [f"k{i}" for i in range(6)],
    "path": [f"p{i}.jpg" for i in range(6)],
    "label": pa.array(labels, pa.int32()),
    "label_name": names,
    "split": splits,
    "feature": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), pa.float32()), dim),
})
preprocessing = {"input_size": 224, "resize_mode": "crop", "resize_size": 256, "crop_fraction": 0.875,
                 "interpolation": "bicubic", "antialias": True,
                 "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
meta = {"format_version": "1", "variant": "b0", "feature_dim": str(dim), "feature_layer": "synthetic",
        "input_size": "224", "preprocessing": json.dumps(preprocessing), "weights.source": "synthetic",
        "weights.blake3": "ab" * 32, "classes": json.dumps(["ants", "bees"]), "tool_version": "test",
        "created_at": "2026-01-01T00:00:00Z"}
pq.write_table(table.replace_schema_metadata({f"effprobe.{k}": v for k, v in meta.items()}), sys.argv[1])
