"""The Python peer for bench/extract_cpu.sh: torchvision model + ImageFolder +
DataLoader with workers, the way the seed experiment's kind of script runs it.

usage: extract_peer.py DATASET WEIGHTS.pt VARIANT THREADS BATCH WORKERS
Prints JSON: images, seconds (end to end, first batch included), images_per_second.
"""
import json
import sys
import time

import torch
import torchvision
from torchvision import datasets, transforms

root, weights, variant, threads, batch, workers = sys.argv[1:7]
torch.set_num_threads(int(threads))
model = getattr(torchvision.models, f"efficientnet_{variant}")()
model.load_state_dict(torch.load(weights, weights_only=True))
model.classifier = torch.nn.Identity()  # pooled features, as extract produces
model.eval()
preset = torchvision.models.get_weight(f"EfficientNet_{variant.upper()}_Weights.IMAGENET1K_V1").transforms()
transform = transforms.Compose([
    transforms.Resize(preset.resize_size[0], interpolation=preset.interpolation),
    transforms.CenterCrop(preset.crop_size[0]),
    transforms.ToTensor(),
    transforms.Normalize(preset.mean, preset.std),
])
splits = [s for s in ("train", "val", "test") if __import__("os").path.isdir(f"{root}/{s}")]
folders = [datasets.ImageFolder(f"{root}/{s}", transform=transform) for s in splits] or [datasets.ImageFolder(root, transform=transform)]
dataset = torch.utils.data.ConcatDataset(folders)
loader = torch.utils.data.DataLoader(dataset, batch_size=int(batch), num_workers=int(workers))
start = time.perf_counter()
count = 0
with torch.inference_mode():
    for images, _ in loader:
        features = model(images)
        count += features.shape[0]
seconds = time.perf_counter() - start
print(json.dumps({"images": count, "seconds": seconds, "images_per_second": count / seconds}))
