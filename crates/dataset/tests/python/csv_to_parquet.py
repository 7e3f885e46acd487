"""Writes a CSV manifest as Parquet the way users' tools do (pyarrow), for the
manifest tests.

usage: csv_to_parquet.py IN.csv OUT.parquet [--int-labels] [--nulls]
  --int-labels  the label column as int64 (Hugging Face ClassLabel style)
  --nulls       empty cells become nulls (as pandas writes missing values)
"""
import csv
import sys

import pyarrow as pa
import pyarrow.parquet as pq

source, target, *flags = sys.argv[1:]
with open(source, newline="") as f:
    rows = list(csv.DictReader(f))
columns = {name: [row[name] for row in rows] for name in rows[0]}
if "--nulls" in flags:
    columns = {n: [v if v != "" else None for v in vs] for n, vs in columns.items()}
arrays = {}
for name, values in columns.items():
    if name == "label" and "--int-labels" in flags:
        arrays[name] = pa.array([None if v is None else int(v) for v in values], pa.int64())
    else:
        arrays[name] = pa.array(values, pa.string())
pq.write_table(pa.table(arrays), target)
