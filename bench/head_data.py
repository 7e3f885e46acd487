"""Writes a synthetic effprobe feature file at the seed's scale for bench/head.sh.

19,658 train rows (6,126 of class 0, 13,532 of class 1), 1,494 val, 1,488 test,
2,560 features, in one of two flavours:

* gaussian: i.i.d. standard normal features with a small class-mean shift, a
  well-conditioned problem;
* featurelike: what pooled CNN features look like: non-negative (ReLU), about
  40% zeros, correlated through 32 shared factors, per-column scales log-normal
  (σ = 0.7: a 10-fold spread from the 5th to the 95th percentile), a class
  signal in some factors and some columns.

The file follows the format of crates/contract (columns and `effprobe.*`
metadata keys, see crates/contract/src/meta.rs), written with pyarrow.

usage: head_data.py {gaussian,featurelike} OUT.parquet [--seed N]
"""
import argparse
import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DIM = 2560
TRAIN = (6126, 13532)
VAL = (465, 1029)
TEST = (463, 1025)
CLASSES = ["cat", "dog"]


def labels_and_splits(rng):
    labels, splits = [], []
    for name, counts in (("train", TRAIN), ("val", VAL), ("test", TEST)):
        for label, count in enumerate(counts):
            labels += [label] * count
            splits += [name] * count
    order = rng.permutation(len(labels))
    return np.asarray(labels, dtype=np.int32)[order], np.asarray(splits)[order]


def gaussian(rng, y):
    shift = rng.choice([-1.0, 1.0], size=DIM).astype(np.float32) * 0.02
    x = rng.standard_normal((len(y), DIM), dtype=np.float32)
    x += np.where(y[:, None] == 1, shift, -shift)
    return x


def featurelike(rng, y):
    factors = 32
    n = len(y)
    signal = (2.0 * y - 1.0).astype(np.float32)[:, None]
    latent = rng.standard_normal((n, factors), dtype=np.float32)
    latent[:, :4] += 0.25 * signal
    loadings = rng.standard_normal((factors, DIM), dtype=np.float32) / np.sqrt(factors)
    z = latent @ loadings
    z *= 0.8
    z += 0.6 * rng.standard_normal((n, DIM), dtype=np.float32)
    column_shift = rng.choice([0.0, 1.0], size=DIM, p=[0.9, 0.1]).astype(np.float32) * 0.08
    z += signal * column_shift
    # P(z < offset) ≈ 0.4 for the unit-variance mix above: ~40% exact zeros after ReLU.
    z -= np.float32(-0.2533)
    np.maximum(z, 0.0, out=z)
    z *= np.exp(rng.normal(0.0, 0.7, size=DIM)).astype(np.float32)
    return z


def write(path, x, y, splits, flavour):
    n = len(y)
    keys = [hashlib.blake2b(f"{flavour}-{i}".encode(), digest_size=32).hexdigest() for i in range(n)]
    names = [CLASSES[label] for label in y]
    feature = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), type=pa.float32()), DIM)
    table = pa.table(
        {
            "key": pa.array(keys, pa.string()),
            "path": pa.array([f"{s}/{c}/{i}.jpg" for i, (s, c) in enumerate(zip(splits, names))], pa.string()),
            "label": pa.array(y, pa.int32()),
            "label_name": pa.array(names, pa.string()),
            "split": pa.array(splits.tolist(), pa.string()),
            "feature": feature,
        }
    )
    preprocessing = {
        "input_size": 600, "resize_mode": "stretch", "resize_size": 600, "crop_fraction": 1.0,
        "interpolation": "bilinear", "antialias": False,
        "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
    }
    meta = {
        "format_version": "1",
        "variant": f"synthetic-{flavour}",
        "feature_dim": str(DIM),
        "feature_layer": "synthetic",
        "input_size": "600",
        "preprocessing": json.dumps(preprocessing),
        "weights.source": "synthetic",
        "weights.blake3": "0" * 64,
        "classes": json.dumps(CLASSES),
        "tool_version": "bench/head_data.py",
        "created_at": "2026-01-01T00:00:00Z",
    }
    table = table.replace_schema_metadata({f"effprobe.{k}": v for k, v in meta.items()})
    pq.write_table(table, path, row_group_size=1024, compression="snappy", use_dictionary=["key", "path", "label_name", "split"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flavour", choices=["gaussian", "featurelike"])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    y, splits = labels_and_splits(rng)
    x = gaussian(rng, y) if args.flavour == "gaussian" else featurelike(rng, y)
    write(args.out, x, y, splits, args.flavour)


if __name__ == "__main__":
    main()
