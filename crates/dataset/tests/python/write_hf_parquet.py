"""Writes image folders as Parquet files the way Hugging Face `datasets` writes
them and the hub serves them: an `image` column (the `Image` feature: a struct of
bytes and path, the bytes embedded as push_to_hub embeds them), a `label` column
(the `ClassLabel` feature, names in the schema's `huggingface` metadata), one
`data/SPLIT-0000K-of-0000N.parquet` per shard.

usage: write_hf_parquet.py SOURCE OUT [--shards N] [--row-group-rows R]
                           [--string-labels] [--image-column NAME]
                           [--label-column NAME] [--paths-only]
                           [--unlabelled K] [--garbage]
  SOURCE            SPLIT/CLASS/*.jpg folders (train/, val/, test/)
  --string-labels   the label as text (a Value("string") feature) instead of ClassLabel
  --paths-only      no bytes, only each image's path (as to_parquet of local files)
  --unlabelled K    K extra rows in the first shard of the last split with label -1
                    (as datasets writes unlabelled rows), copies of its first image
  --garbage         one extra row whose bytes are not an image, in the same shard
Prints one line per row: FILE ROW CLASS SOURCE_PATH
"""
import argparse
import os

from datasets import ClassLabel, Dataset, Image, Value
from datasets.table import embed_table_storage

parser = argparse.ArgumentParser()
parser.add_argument("source")
parser.add_argument("out")
parser.add_argument("--shards", type=int, default=1)
parser.add_argument("--row-group-rows", type=int, default=100)
parser.add_argument("--string-labels", action="store_true")
parser.add_argument("--image-column", default="image")
parser.add_argument("--label-column", default="label")
parser.add_argument("--paths-only", action="store_true")
parser.add_argument("--unlabelled", type=int, default=0)
parser.add_argument("--garbage", action="store_true")
args = parser.parse_args()

splits = sorted(d for d in os.listdir(args.source) if os.path.isdir(os.path.join(args.source, d)))
classes = sorted(
    {c for s in splits for c in os.listdir(os.path.join(args.source, s)) if os.path.isdir(os.path.join(args.source, s, c))}
)
os.makedirs(os.path.join(args.out, "data"), exist_ok=True)
for split_index, split in enumerate(splits):
    paths, labels = [], []
    for c in classes:
        folder = os.path.join(args.source, split, c)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            paths.append(os.path.abspath(os.path.join(folder, name)))
            labels.append(c if args.string_labels else classes.index(c))
    label_feature = Value("string") if args.string_labels else ClassLabel(names=classes)
    last = split_index == len(splits) - 1
    for shard in range(args.shards):
        part_paths = paths[shard :: args.shards]
        part_labels = labels[shard :: args.shards]
        images = [{"bytes": None, "path": p} for p in part_paths]
        if last and shard == 0:
            for _ in range(args.unlabelled):
                images.append({"bytes": None, "path": part_paths[0]})
                part_labels.append(-1)
            if args.garbage:
                images.append({"bytes": b"not an image at all", "path": "garbage.jpg"})
                part_labels.append(part_labels[0])
        ds = Dataset.from_dict({args.image_column: images, args.label_column: part_labels})
        ds = ds.cast_column(args.image_column, Image()).cast_column(args.label_column, label_feature)
        if not args.paths_only:
            ds = ds.with_format("arrow").map(embed_table_storage, batched=True).with_format(None)
        name = f"data/{split}-{shard:05d}-of-{args.shards:05d}.parquet"
        ds.to_parquet(os.path.join(args.out, name), batch_size=args.row_group_rows)
        for row, (image, label) in enumerate(zip(images, part_labels)):
            shown = os.path.relpath(image["path"], args.source) if image["bytes"] is None else "-"
            cls = label if args.string_labels else (classes[label] if label >= 0 else "-")
            print(name, row, cls, shown)
