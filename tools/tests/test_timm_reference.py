"""crates/backbone/tests/python/timm_reference.py: timm's own features for an exported
module, end to end on real JPEG files and on given pixels, agree with the module."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import timm
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

import export_backbone
import timm_backbone as tb
from conftest import TOOLS

REFERENCE = os.path.join(os.path.dirname(TOOLS), "crates", "backbone", "tests", "python", "timm_reference.py")
TOLERANCE = 1e-4


def reference(*args):
    return subprocess.run([sys.executable, REFERENCE, *args], capture_output=True, text=True, timeout=600)


def read(path):
    with safe_open(str(path), "pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}, handle.metadata()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    out = folder / "mnv4.pt"
    assert export_backbone.main(["mobilenetv4_conv_small", "--weights", "random:11", "--out", str(out)]) == 0
    return out


def photos(folder):
    """Real JPEG and PNG files of different sizes and aspect ratios, one greyscale."""
    generator = torch.Generator().manual_seed(21)
    paths = []
    for index, (height, width, mode) in enumerate([(240, 320, "RGB"), (500, 375, "RGB"), (199, 201, "L")]):
        pixels = tb.synthetic_images(generator, 1, height, width, (0.0,) * 3, (1.0,) * 3)[0]
        array = (pixels.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
        image = Image.fromarray(array).convert(mode)
        path = folder / f"photo{index}.{'png' if mode == 'L' else 'jpg'}"
        image.save(path, quality=90) if mode != "L" else image.save(path)
        paths.append(str(path))
    return paths


def test_images_end_to_end_with_timms_transform(exported, tmp_path):
    paths = photos(tmp_path)
    out = tmp_path / "features.safetensors"
    result = reference("images", str(exported) + ".json", "--out", str(out), *paths)
    assert result.returncode == 0, result.stderr
    tensors, metadata = read(out)
    assert json.loads(metadata["images"]) == paths
    assert json.loads(metadata["recipe_overridden"]) == []
    sidecar = json.loads((exported.parent / "mnv4.pt.json").read_text())

    # timm's transform, built independently, feeding the exported module.
    model = timm.create_model("mobilenetv4_conv_small", pretrained=False)
    transform = timm.data.create_transform(**timm.data.resolve_data_config(model=model))
    pixels = torch.stack([transform(Image.open(path).convert("RGB")) for path in paths])
    with torch.no_grad():
        module_features = torch.jit.load(str(exported))(pixels)
    assert tensors["features"].dtype == torch.float32
    assert tensors["features"].shape == (3, sidecar["feature_dim"])
    _, rel = tb.relative_difference(tensors["features"], module_features)
    assert rel <= TOLERANCE


def test_pixels_and_float64(exported, tmp_path):
    sidecar = json.loads((exported.parent / "mnv4.pt.json").read_text())
    _, height, width = sidecar["pretrained_cfg"]["input_size"]
    pixels = tb.synthetic_images(torch.Generator().manual_seed(8), 2, height, width,
                                 sidecar["pretrained_cfg"]["mean"], sidecar["pretrained_cfg"]["std"])
    save_file({"pixels": pixels}, str(tmp_path / "pixels.safetensors"))
    out = tmp_path / "features.safetensors"
    result = reference("pixels", str(exported) + ".json", "--pixels", str(tmp_path / "pixels.safetensors"),
                       "--out", str(out), "--float64")
    assert result.returncode == 0, result.stderr
    tensors, _ = read(out)
    with torch.no_grad():
        module_features = torch.jit.load(str(exported))(pixels)
    assert tb.relative_difference(tensors["features"], module_features)[1] <= TOLERANCE
    assert tensors["features_float64"].dtype == torch.float64
    assert tb.relative_difference(module_features, tensors["features_float64"])[1] <= TOLERANCE

    save_file({"pixels": pixels[:, :, :100].contiguous()}, str(tmp_path / "cropped.safetensors"))
    result = reference("pixels", str(exported) + ".json", "--pixels", str(tmp_path / "cropped.safetensors"),
                       "--out", str(tmp_path / "never.safetensors"))
    assert result.returncode == 1 and "the recipe needs [N, 3, 224, 224]" in result.stderr
    assert not (tmp_path / "never.safetensors").exists()


def test_refuses_weights_that_changed(exported, tmp_path):
    sidecar = json.loads((exported.parent / "mnv4.pt.json").read_text())
    sidecar["weights"]["blake3"] = "0" * 64
    tampered = tmp_path / "tampered.pt.json"
    tampered.write_text(json.dumps(sidecar))
    result = reference("images", str(tampered), "--out", str(tmp_path / "x.safetensors"), "nothing.jpg")
    assert result.returncode == 1
    assert "not the weights the module was exported with" in result.stderr
