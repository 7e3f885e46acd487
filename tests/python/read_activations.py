"""Reads an effprobe activation cache with safetensors and pyarrow alone, as a user
without effprobe would: prints JSON with the rows, shape, dtype, whether every
feature-file key has an activation, and the largest magnitude (finite check).

usage: read_activations.py FEATURES.parquet ACTIVATION_DIR
"""
import glob
import json
import os
import sys

import numpy as np
import pyarrow.parquet as pq
from safetensors import safe_open

features, folder = sys.argv[1], sys.argv[2]
keys = set(pq.read_table(features, columns=["key"]).column("key").to_pylist())
rows, shapes, dtypes, seen, largest = 0, set(), set(), set(), 0.0
for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
    with safe_open(path, "np") as f:
        meta = f.metadata()
        array = f.get_tensor("activation")
    chunk_keys = json.loads(meta["keys"])
    assert len(chunk_keys) == array.shape[0], path
    rows += array.shape[0]
    shapes.add(tuple(array.shape[1:]))
    dtypes.add(str(array.dtype))
    seen.update(chunk_keys)
    largest = max(largest, float(np.abs(array.astype(np.float32)).max()))
print(json.dumps({
    "rows": rows,
    "shapes": [list(s) for s in shapes],
    "dtypes": sorted(dtypes),
    "cut": json.loads(meta["cut"]),
    "every_key_present": keys <= seen,
    "finite": bool(np.isfinite(largest)),
    "largest": largest,
}))
