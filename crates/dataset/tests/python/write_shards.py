"""Writes a folder of class folders (CLASS/*.jpg) as WebDataset tar shards, the
way webdataset's TarWriter writes them: one member per field named KEY.EXT
(mode 0o444, user and group "bigdata"), the image first, then its label.

usage: write_shards.py SOURCE OUT_DIR [--per-shard N] [--label cls|json|none]
                       [--prefix shard] [--truncate SHARD:MEMBER]
  --label cls   KEY.cls holds the class index (classes sorted by name)
  --label json  KEY.json holds {"class": NAME, "width": W}
  --truncate    cut shard SHARD in the middle of its member number MEMBER
Prints one line per sample: KEY SHARD_FILE CLASS SOURCE_PATH
"""
import argparse
import io
import json
import os
import tarfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("source")
parser.add_argument("out")
parser.add_argument("--per-shard", type=int, default=10)
parser.add_argument("--label", choices=["cls", "json", "none"], default="cls")
parser.add_argument("--prefix", default="shard")
parser.add_argument("--truncate")
args = parser.parse_args()

classes = sorted(d for d in os.listdir(args.source) if os.path.isdir(os.path.join(args.source, d)))
samples = [
    (c, os.path.join(args.source, c, name))
    for c in classes
    for name in sorted(os.listdir(os.path.join(args.source, c)))
]
os.makedirs(args.out, exist_ok=True)


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o444
    info.uname = info.gname = "bigdata"
    tar.addfile(info, io.BytesIO(data))


shard_files = []
for start in range(0, len(samples), args.per_shard):
    shard = os.path.join(args.out, f"{args.prefix}-{len(shard_files):05d}.tar")
    shard_files.append(shard)
    with tarfile.open(shard, "w") as tar:
        for index in range(start, min(start + args.per_shard, len(samples))):
            cls, path = samples[index]
            key = f"{index:06d}"
            data = open(path, "rb").read()
            add(tar, f"{key}{os.path.splitext(path)[1].lower()}", data)
            if args.label == "cls":
                add(tar, f"{key}.cls", str(classes.index(cls)).encode())
            elif args.label == "json":
                add(tar, f"{key}.json", json.dumps({"class": cls, "width": 0}).encode())
            print(key, os.path.basename(shard), cls, os.path.relpath(path, args.source))

if args.truncate:
    shard_index, member_index = map(int, args.truncate.split(":"))
    shard = shard_files[shard_index]
    with tarfile.open(shard) as tar:
        member = tar.getmembers()[member_index]
    with open(shard, "r+b") as f:
        f.truncate(member.offset_data + member.size // 2)
