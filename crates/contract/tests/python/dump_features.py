"""Reads an effprobe feature file with pyarrow and pandas; prints what it saw as JSON.

Floats are printed as the hex of their float32 bits so the Rust side can check a
bit-exact round trip, including NaN-free awkward values (subnormals, -0.0, extremes).
"""
import json
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

path = sys.argv[1]
table = pq.read_table(path)
frame = pd.read_parquet(path)
schema = pq.read_schema(path)

features = np.stack(frame["feature"].to_numpy()).astype(np.float32, copy=False)
assert features.dtype == np.float32
assert frame["label"].dtype == np.int32, frame["label"].dtype
assert str(table.schema.field("feature").type).startswith("fixed_size_list<item: float")

print(json.dumps({
    "metadata": {k.decode(): v.decode() for k, v in schema.metadata.items()},
    "columns": table.column_names,
    "feature_type": str(table.schema.field("feature").type),
    "key": frame["key"].tolist(),
    "path": frame["path"].tolist(),
    "label": [int(v) for v in frame["label"]],
    "label_name": frame["label_name"].tolist(),
    "split": frame["split"].tolist(),
    "feature_bits": [[f"{b:08x}" for b in row] for row in features.view(np.uint32)],
}))
