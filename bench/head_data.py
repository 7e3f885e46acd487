"""Writes a synthetic effprobe feature file for bench/head.sh.

Two classes at the seed's scale: 19,658 train rows (6,126 of class 0, 13,532 of
class 1), 1,494 val, 1,488 test, 2,560 features, in one of two flavours:

* gaussian: i.i.d. standard normal features with a small class-mean shift, a
  well-conditioned problem;
* featurelike: what pooled CNN features look like: non-negative (ReLU), about
  40% zeros, correlated through 32 shared factors, per-column scales log-normal
  (σ = 0.7: a 10-fold spread from the 5th to the 95th percentile), a class
  signal in some factors and some columns.

And many classes, few images each (issue 21's dog breeds through Lite0):

* multiclass: 120 classes, 754 train rows (2 to 12 per class), 120 val and
  126 test, 1,280 features, feature-like as above with a class signal (a
  direction per class in the factors and some columns).

The file follows the format of crates/contract (columns and `effprobe.*`
metadata keys, see crates/contract/src/meta.rs), written with pyarrow.

usage: head_data.py {gaussian,featurelike,multiclass} OUT.parquet [--seed N]
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


MULTI_CLASSES = 120
MULTI_DIM = 1280
MULTI_TRAIN = 754
MULTI_VAL = 120
MULTI_TEST = 126


def multiclass_labels_and_splits(rng):
    """Every class at least twice in train, the rest spread unevenly; val and test
    one row per class (all of val, most of test) plus a few more."""
    weights = rng.gamma(2.0, 1.0, MULTI_CLASSES)
    extra = MULTI_TRAIN - 2 * MULTI_CLASSES
    counts = 2 + np.floor(weights / weights.sum() * extra).astype(int)
    counts[np.argsort(-weights)[: MULTI_TRAIN - counts.sum()]] += 1
    labels = np.concatenate([np.repeat(np.arange(MULTI_CLASSES), counts),
                             np.arange(MULTI_CLASSES),
                             rng.permutation(MULTI_CLASSES)[:MULTI_TEST]])
    labels = np.concatenate([labels, rng.integers(0, MULTI_CLASSES, MULTI_TEST - min(MULTI_TEST, MULTI_CLASSES))])
    splits = np.asarray(["train"] * MULTI_TRAIN + ["val"] * MULTI_VAL + ["test"] * MULTI_TEST)
    order = rng.permutation(len(labels))
    return labels.astype(np.int32)[order], splits[order]


def multiclass(rng, y):
    factors = 64
    n = len(y)
    directions = rng.standard_normal((MULTI_CLASSES, factors)).astype(np.float32)
    latent = rng.standard_normal((n, factors), dtype=np.float32) + 0.9 * directions[y]
    loadings = rng.standard_normal((factors, MULTI_DIM), dtype=np.float32) / np.sqrt(factors)
    z = latent @ loadings
    z *= 0.8
    z += 0.6 * rng.standard_normal((n, MULTI_DIM), dtype=np.float32)
    column_means = rng.standard_normal((MULTI_CLASSES, MULTI_DIM)).astype(np.float32)
    column_means *= rng.choice([0.0, 1.0], size=MULTI_DIM, p=[0.9, 0.1]).astype(np.float32) * 0.3
    z += column_means[y]
    z -= np.float32(-0.2533)
    np.maximum(z, 0.0, out=z)
    z *= np.exp(rng.normal(0.0, 0.7, size=MULTI_DIM)).astype(np.float32)
    return z


def write(path, x, y, splits, flavour, classes=CLASSES):
    n, dim = x.shape
    keys = [hashlib.blake2b(f"{flavour}-{i}".encode(), digest_size=32).hexdigest() for i in range(n)]
    names = [classes[label] for label in y]
    feature = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), type=pa.float32()), dim)
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
        "feature_dim": str(dim),
        "feature_layer": "synthetic",
        "input_size": "600",
        "preprocessing": json.dumps(preprocessing),
        "weights.source": "synthetic",
        "weights.blake3": "0" * 64,
        "classes": json.dumps(classes),
        "tool_version": "bench/head_data.py",
        "created_at": "2026-01-01T00:00:00Z",
    }
    table = table.replace_schema_metadata({f"effprobe.{k}": v for k, v in meta.items()})
    pq.write_table(table, path, row_group_size=1024, compression="snappy", use_dictionary=["key", "path", "label_name", "split"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flavour", choices=["gaussian", "featurelike", "multiclass"])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    if args.flavour == "multiclass":
        y, splits = multiclass_labels_and_splits(rng)
        names = [f"breed{c:03d}" for c in range(MULTI_CLASSES)]
        write(args.out, multiclass(rng, y), y, splits, args.flavour, names)
        return
    y, splits = labels_and_splits(rng)
    x = gaussian(rng, y) if args.flavour == "gaussian" else featurelike(rng, y)
    write(args.out, x, y, splits, args.flavour)


if __name__ == "__main__":
    main()
