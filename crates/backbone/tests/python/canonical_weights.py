"""Derives each native variant's canonical timm weights from timm's own pretrained
registry and prints, per variant, what the Rust test checks them against.

The rule (the one crates/backbone/src/efficientnet/canonical.rs documents): the
default pretrained tag of `efficientnet_<variant>` when timm lists it as having
weights, else the default tag of its TensorFlow port `tf_efficientnet_<variant>`;
the repo is that model's `pretrained_cfg.hf_hub_id`.

usage: canonical_weights.py   (prints JSON: variant -> repo, architecture,
       pretrained_cfg, and the state dict's tensor shapes, built on the meta
       device: no weights are made or fetched)
"""
import json

import timm
import torch
from timm.models import get_pretrained_cfg
from timm.models._registry import _model_default_cfgs

VARIANTS = [f"b{i}" for i in range(8)] + [f"lite{i}" for i in range(5)]


def canonical(variant, pretrained):
    for architecture in (f"efficientnet_{variant}", f"tf_efficientnet_{variant}"):
        default_tag = _model_default_cfgs[architecture].tags[0]
        name = f"{architecture}.{default_tag}"
        if name in pretrained:
            return architecture, name
    raise SystemExit(f"{variant}: neither timm model has pretrained weights by default")


def main():
    pretrained = set(timm.list_pretrained())
    table = {}
    for variant in VARIANTS:
        architecture, name = canonical(variant, pretrained)
        cfg = get_pretrained_cfg(name)
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False)
        table[variant] = {
            "repo": cfg.hf_hub_id,
            # What timm's save_for_hf writes into config.json.
            "config": {
                "architecture": architecture,
                "pretrained_cfg": {
                    "input_size": list(cfg.input_size),
                    "interpolation": cfg.interpolation,
                    "crop_pct": cfg.crop_pct,
                    "crop_mode": cfg.crop_mode,
                    "mean": list(cfg.mean),
                    "std": list(cfg.std),
                },
            },
            "tensors": {key: list(value.shape) for key, value in model.state_dict().items()},
        }
    print(json.dumps({"timm": timm.__version__, "variants": table}))


if __name__ == "__main__":
    main()
