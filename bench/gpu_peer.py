"""The PyTorch peer for bench/gpu_seed_scale.sh: what a careful PyTorch user runs
to get pooled features on a GPU. torchvision EfficientNet (its own random
initialisation, classifier = Identity), channels-last, autocast for bf16,
cuDNN autotuning, ImageFolder + DataLoader with one worker per core and pinned
memory, preprocessing = the recipe `extract` recorded in a feature file
(`effprobe.preprocessing`: input size, resize mode and size, interpolation,
mean, std; antialiased, as PIL always is). Features come back to the CPU as
fp32, as extract's do.

usage: gpu_peer.py DATASET VARIANT --recipe-from FEATURES.parquet --batch-size B
                   [--workers N] [--device cuda:0] [--precision bf16|fp32] [--json-out FILE]

Prints (and writes to --json-out) JSON: images, seconds (from the first
request to the DataLoader, so worker start-up and the first batch's cuDNN
autotuning count, until the last batch's features are on the CPU),
images_per_second, batch_size, workers, recipe.
"""
import argparse
import json
import os
import time

import pyarrow.parquet as pq
import torch
import torchvision
from torchvision import datasets, transforms
from torchvision.transforms import InterpolationMode

p = argparse.ArgumentParser()
p.add_argument("dataset")
p.add_argument("variant")
p.add_argument("--recipe-from", required=True)
p.add_argument("--batch-size", type=int, required=True)
p.add_argument("--workers", type=int, default=os.cpu_count())
p.add_argument("--device", default="cuda:0")
p.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
p.add_argument("--json-out")
args = p.parse_args()

recipe = json.loads(pq.read_schema(args.recipe_from).metadata[b"effprobe.preprocessing"])
interpolation = {"nearest": InterpolationMode.NEAREST, "bilinear": InterpolationMode.BILINEAR,
                 "bicubic": InterpolationMode.BICUBIC}[recipe["interpolation"]]
size = recipe["input_size"]
if recipe["resize_mode"] == "crop":
    resize = [transforms.Resize(recipe["resize_size"], interpolation=interpolation, antialias=True),
              transforms.CenterCrop(size)]
else:
    resize = [transforms.Resize((size, size), interpolation=interpolation, antialias=True)]
transform = transforms.Compose(resize + [transforms.ToTensor(), transforms.Normalize(recipe["mean"], recipe["std"])])

device = torch.device(args.device)
on_gpu = device.type == "cuda"
torch.backends.cudnn.benchmark = True
model = getattr(torchvision.models, f"efficientnet_{args.variant}")()
model.classifier = torch.nn.Identity()
model = model.eval().to(device, memory_format=torch.channels_last)

dataset = datasets.ImageFolder(args.dataset, transform=transform)
loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers,
                                     pin_memory=on_gpu, shuffle=False)
dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
count = 0
start = time.perf_counter()
with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=args.precision == "bf16"):
    for images, _ in loader:
        images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        features = model(images).float().cpu()
        count += features.shape[0]
seconds = time.perf_counter() - start
result = {"images": count, "seconds": seconds, "images_per_second": count / seconds,
          "batch_size": args.batch_size, "workers": args.workers, "device": str(device),
          "precision": args.precision, "recipe": recipe, "torch": torch.__version__,
          "torchvision": torchvision.__version__}
print(json.dumps(result))
if args.json_out:
    with open(args.json_out, "w") as f:
        json.dump(result, f, indent=1)
