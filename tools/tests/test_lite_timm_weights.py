"""tools/lite_timm_weights.py: the real pretrained Lite0 renamed to timm, exported to
TorchScript with the TF-Lite recipe, equals the efficientnet_lite_pytorch package's model."""
import glob
import json
import os
import subprocess
import sys

import torch

import export_backbone
import timm_backbone as tb
from conftest import TOOLS, skip_or_fail

LITE0 = os.path.join(os.path.dirname(TOOLS), "data", "weights", "lite0.safetensors")


def test_pretrained_lite0_exports_and_matches_the_package(tmp_path, request):
    if not os.path.isfile(LITE0):
        skip_or_fail(request, f"{LITE0} absent (made by data/weights/make-lite, run by scripts/setup)")
    renamed = tmp_path / "lite0-timm.safetensors"
    result = subprocess.run([sys.executable, os.path.join(TOOLS, "lite_timm_weights.py"), LITE0, str(renamed)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    flags = result.stdout.split("recipe flags: ", 1)[1].split()
    assert flags[:4] == ["--interpolation", "bilinear", "--crop-pct", "0.875"]
    out = tmp_path / "lite0.pt"
    assert export_backbone.main(["tf_efficientnet_lite0", "--weights", str(renamed), "--out", str(out), *flags]) == 0
    cfg = json.loads((tmp_path / "lite0.pt.json").read_text())["pretrained_cfg"]
    assert cfg["mean"] == [127 / 255] * 3 and cfg["std"] == [128 / 255] * 3 and cfg["crop_mode"] == "center"

    # wherever the crates keep it (crates/extract today, crates/backbone after the move)
    found = glob.glob(os.path.join(os.path.dirname(TOOLS), "crates", "*", "tests", "python", "lite_reference.py"))
    assert found, "no crates/*/tests/python/lite_reference.py"
    sys.path.insert(0, os.path.dirname(found[0]))
    from lite_reference import pooled, reference_model

    inputs = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        _, rel = tb.relative_difference(torch.jit.load(str(out))(inputs), pooled(reference_model(0), inputs))
    assert rel <= 1e-5
