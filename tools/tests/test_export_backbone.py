"""tools/export_backbone.py: seven timm families exported with random weights, each
checked against the eager model (float32 and float64), the sidecar against timm, and
the paths that must refuse (export fault, unknown model, uncached or unfitting weights).

Run from the repository root: python -m pytest tools/tests -q
"""
import copy
import json
import os
import subprocess
import sys
import time

import blake3
import pytest
import torch
import timm
from safetensors.torch import save_file

import export_backbone
import timm_backbone as tb
from conftest import FAMILY_FIGURES, TOOLS

EXPORTER = os.path.join(TOOLS, "export_backbone.py")
SEED = 7
# (timm name, pooling, input size): the families effprobe's conformance tests use.
FAMILIES = [
    ("resnet50", "avg", (224, 224)),
    ("convnext_tiny", "avg", (224, 224)),
    ("vit_small_patch16_224", "token", (224, 224)),
    ("vit_small_patch14_dinov2", "token", (518, 518)),
    ("vit_base_patch16_clip_224.openai", "token", (224, 224)),
    ("tf_efficientnetv2_s", "avg", (300, 300)),
    ("mobilenetv4_hybrid_medium", "avg", (256, 256)),
]
TOLERANCE = 1e-4
torch.set_num_threads(min(2, os.cpu_count() or 1))


def blake3_of(path):
    with open(path, "rb") as handle:
        return blake3.blake3(handle.read()).hexdigest()


def run_exporter(*args, env=None):
    """The exporter as a separate process (for environment-dependent paths)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, EXPORTER, *args], capture_output=True, text=True, env=full_env,
                          timeout=600)


def leftovers(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    return tmp_path_factory.mktemp("exports")


@pytest.mark.parametrize("name,pool,size", FAMILIES, ids=[family[0] for family in FAMILIES])
def test_family_exports_and_matches_eager(name, pool, size, exports):
    out = exports / f"{name}.pt"
    started = time.perf_counter()
    assert export_backbone.main([name, "--weights", f"random:{SEED}", "--out", str(out)]) == 0
    export_seconds = time.perf_counter() - started
    sidecar = json.loads((exports / f"{name}.pt.json").read_text())

    # The eager model, rebuilt from the same spec: random:SEED must be reproducible.
    backbone = tb.build(name, f"random:{SEED}")
    arch, _ = timm.models.split_model_name_tag(name)
    timm_model = timm.create_model(name, pretrained=False)
    recipe_tag = timm_model.pretrained_cfg["tag"]
    reference_cfg = timm.data.resolve_data_config(model=timm_model)
    assert sidecar["format"] == "effprobe-backbone/1"
    assert sidecar["module"] == f"{name}.pt"
    assert sidecar["module_blake3"] == blake3_of(out)
    assert sidecar["model"] == arch
    assert sidecar["pretrained_tag"] == recipe_tag  # the recipe's tag, not a claim about the tensors
    identity = f"random:{arch}.{recipe_tag}:seed={SEED}:input={size[0]}x{size[1]}:effprobe-random/1"
    assert sidecar["weights"] == {"spec": f"random:{SEED}", "blake3": blake3.blake3(identity.encode()).hexdigest()}
    assert sidecar["pooling"] == pool
    assert sidecar["feature_layer"].startswith(f"timm {arch}: forward_head(forward_features(x), pre_logits=True)")
    assert sidecar["parameters"] == sum(p.numel() for p in backbone.model.parameters())
    cfg = sidecar["pretrained_cfg"]
    assert cfg["input_size"] == [3, *size] == list(reference_cfg["input_size"])
    for key in ("interpolation", "crop_pct", "crop_mode"):
        assert cfg[key] == reference_cfg[key], key
    assert cfg["mean"] == pytest.approx(list(reference_cfg["mean"]), abs=0)
    assert cfg["std"] == pytest.approx(list(reference_cfg["std"]), abs=0)
    assert cfg["fixed_input_size"] == bool(backbone.model.pretrained_cfg.get("fixed_input_size", False))
    export = sidecar["export"]
    assert export["method"] == "trace" and export["traced_input"] == [2, 3, *size]
    assert export["check"]["batch"] == 3 and export["check"]["max_rel_diff"] <= TOLERANCE
    assert export["timm_version"] == timm.__version__
    assert export["torch_version"] == torch.__version__.split("+")[0]

    # Module vs eager on a batch size neither the trace (2) nor the check (3) used;
    # float64 (slow: no oneDNN) on the first image alone.
    module = torch.jit.load(str(out), map_location="cpu")
    images = tb.synthetic_images(torch.Generator().manual_seed(99), 4, *size, cfg["mean"], cfg["std"])
    with torch.no_grad():
        exported = module(images)
        eager32 = backbone.model(images)
        eager64 = copy.deepcopy(backbone.model).double()(images[:1].double())
    assert exported.dtype == torch.float32 and exported.shape == (4, sidecar["feature_dim"])
    _, vs_eager32 = tb.relative_difference(exported, eager32)
    _, vs_eager64 = tb.relative_difference(exported[:1], eager64)
    _, eager_rounding = tb.relative_difference(eager32[:1], eager64)
    # Features that vary across images: random weights that map everything to one
    # point would pass any comparison.
    spread = (exported.std(dim=0).mean() / exported.abs().mean()).item()
    FAMILY_FIGURES[name] = {"input": f"{size[0]}x{size[1]}", "dim": sidecar["feature_dim"],
                            "export_seconds": export_seconds, "module_vs_eager32": vs_eager32,
                            "module_vs_eager64": vs_eager64, "eager32_vs_64": eager_rounding, "spread": spread}
    assert vs_eager32 <= TOLERANCE
    assert vs_eager64 <= TOLERANCE, "float32 module vs float64 eager model"
    assert spread >= 0.1, f"features barely vary across images (mean per-dim std / mean |f| = {spread:.3g})"


def test_refuses_a_module_that_disagrees_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """An export fault (here: the traced module carries slightly different weights than
    the eager model it is checked against) must leave nothing behind."""
    real_compile = export_backbone.compile_module

    def faulty_compile(wrapper, example, method):
        broken = copy.deepcopy(wrapper)
        with torch.no_grad():
            for parameter in broken.parameters():
                parameter.mul_(1.01)
        return real_compile(broken, example, method)

    monkeypatch.setattr(export_backbone, "compile_module", faulty_compile)
    out = tmp_path / "out" / "faulty.pt"
    assert export_backbone.main(["mobilenetv4_conv_small", "--weights", "random:1", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "disagrees with the eager model" in error and "nothing written" in error
    assert error.count("\n") == 1, error
    assert leftovers(tmp_path / "out") == []


def test_refuses_a_module_whose_batch_size_is_frozen(tmp_path, monkeypatch, capsys):
    """A trace that bakes the example's batch size into a reshape is caught by running
    the saved module at another batch size."""

    class FrozenBatch(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            features = self.inner(x)
            batch = int(features.shape[0])  # a Python int: the trace keeps the example's 2
            return features.reshape(batch, -1)

    real_compile = export_backbone.compile_module
    monkeypatch.setattr(export_backbone, "compile_module",
                        lambda wrapper, example, method: real_compile(FrozenBatch(wrapper), example, method))
    out = tmp_path / "frozen.pt"
    assert export_backbone.main(["mobilenetv4_conv_small", "--weights", "random:1", "--out", str(out)]) == 1
    assert "nothing written" in capsys.readouterr().err
    assert leftovers(tmp_path) == []


def test_unknown_model_suggests_close_names(tmp_path, capsys):
    code = export_backbone.main(["convnext_tinny", "--weights", "random:0", "--out", str(tmp_path / "x.pt")])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("export_backbone: timm has no model 'convnext_tinny'") and "convnext_tiny" in error
    assert leftovers(tmp_path) == []


def test_random_alone_is_seed_0(tmp_path):
    assert tb.parse_weights_spec("random") == ("random", 0)
    assert tb.parse_weights_spec("timm/resnet50.a1_in1k") == ("hf", "timm/resnet50.a1_in1k")
    assert tb.parse_weights_spec("hf:timm/resnet50.a1_in1k") == ("hf", "timm/resnet50.a1_in1k")
    assert tb.parse_weights_spec("resnet50.a1_in1k") == ("timm", "resnet50.a1_in1k")
    (tmp_path / "w.pth").write_bytes(b"")
    assert tb.parse_weights_spec(str(tmp_path / "w.pth")) == ("file", str(tmp_path / "w.pth"))


@pytest.mark.parametrize("spec,fragment", [
    ("random:x", "random:SEED needs a non-negative integer seed"),
    ("hf:nothing", "hf: needs OWNER/NAME"),
    ("convnext_tiny", "not random[:SEED], [hf:]OWNER/NAME"),
    ("missing.safetensors", "no such file"),
])
def test_malformed_weights_specs_are_argument_errors(spec, fragment, tmp_path, capsys):
    code = export_backbone.main(["convnext_tiny", "--weights", spec, "--out", str(tmp_path / "x.pt")])
    assert code == 2
    assert fragment in capsys.readouterr().err


def test_weights_not_in_the_cache_print_the_fetch_command(tmp_path):
    result = run_exporter("resnet50", "--weights", "resnet50.a1_in1k", "--out", str(tmp_path / "r.pt"),
                          env={"HF_HUB_CACHE": str(tmp_path / "empty-cache")})
    assert result.returncode == 1
    assert result.stderr.strip().endswith("fetch them with: hf download timm/resnet50.a1_in1k"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert leftovers(tmp_path) == []


def lay_out_hub_cache(cache, repo, model):
    """A hub cache entry as `hf download` leaves it: blobs, a snapshot of symlinks, refs/main;
    the files are what timm's own save_for_hf writes."""
    from timm.models._hub import save_for_hf

    revision = "0123456789abcdef0123456789abcdef01234567"
    root = cache / ("models--" + repo.replace("/", "--"))
    snapshot, blobs, refs = root / "snapshots" / revision, root / "blobs", root / "refs"
    for folder in (snapshot, blobs, refs):
        folder.mkdir(parents=True)
    (refs / "main").write_text(revision)
    staging = cache / "staging"
    save_for_hf(model, str(staging), safe_serialization=True)
    for file in os.listdir(staging):
        os.replace(staging / file, blobs / f"blob-{file}")
        os.symlink(os.path.relpath(blobs / f"blob-{file}", snapshot), snapshot / file)
    staging.rmdir()
    return snapshot


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory):
    """HF_HOME with a hub cache holding timm/mobilenetv4_conv_small.e2400_r224_in1k
    (random, calibrated weights), and the model those weights make."""
    torch.manual_seed(3)
    full = timm.create_model("mobilenetv4_conv_small.e2400_r224_in1k", pretrained=False).eval()
    tb.randomise(full, 3, (224, 224))  # calibrated, so features are well-conditioned
    home = tmp_path_factory.mktemp("hf")
    snapshot = lay_out_hub_cache(home / "hub", "timm/mobilenetv4_conv_small.e2400_r224_in1k", full)
    full.reset_classifier(0)
    return home, snapshot, full


@pytest.mark.parametrize("spec,where", [
    ("hf:timm/mobilenetv4_conv_small.e2400_r224_in1k", "HF_HUB_CACHE"),
    ("mobilenetv4_conv_small.e2400_r224_in1k", "HF_HOME"),
    ("timm/mobilenetv4_conv_small.e2400_r224_in1k", "--hf-cache"),
])
def test_weights_from_the_local_hub_cache(spec, where, hub_cache, tmp_path):
    home, snapshot, full = hub_cache
    out = tmp_path / "out" / "m.pt"
    settings = {"HF_HUB_CACHE": str(home / "hub")} if where == "HF_HUB_CACHE" else {}
    settings.update({"HF_HOME": str(home)} if where == "HF_HOME" else {})
    flags = ["--hf-cache", str(home / "hub")] if where == "--hf-cache" else []
    clean = {key: value for key, value in os.environ.items() if key not in ("HF_HOME", "HF_HUB_CACHE")}
    result = subprocess.run([sys.executable, EXPORTER, "mobilenetv4_conv_small", "--weights", spec, "--out", str(out),
                             *flags], capture_output=True, text=True, env={**clean, **settings}, timeout=600)
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "out" / "m.pt.json").read_text())
    assert sidecar["weights"] == {"spec": "hf:timm/mobilenetv4_conv_small.e2400_r224_in1k",
                                  "blake3": blake3_of(snapshot / "model.safetensors")}
    assert sidecar["pretrained_tag"] == "e2400_r224_in1k"
    images = tb.synthetic_images(torch.Generator().manual_seed(5), 2, 224, 224,
                                 sidecar["pretrained_cfg"]["mean"], sidecar["pretrained_cfg"]["std"])
    with torch.no_grad():
        _, rel = tb.relative_difference(torch.jit.load(str(out))(images), full(images))
    assert rel <= TOLERANCE


def test_checkpoint_file_round_trip_and_misfit(tmp_path, capsys):
    torch.manual_seed(4)
    model = timm.create_model("mobilenetv4_conv_small", pretrained=False).eval()
    tb.randomise(model, 4, (224, 224))
    state = {key: value.contiguous() for key, value in model.state_dict().items()}
    save_file(state, str(tmp_path / "fits.safetensors"))
    out = tmp_path / "m.pt"
    assert export_backbone.main(["mobilenetv4_conv_small", "--weights", str(tmp_path / "fits.safetensors"),
                                 "--out", str(out)]) == 0
    sidecar = json.loads((tmp_path / "m.pt.json").read_text())
    assert sidecar["weights"] == {"spec": f"file:{tmp_path / 'fits.safetensors'}",
                                  "blake3": blake3_of(tmp_path / "fits.safetensors")}
    assert sidecar["pretrained_tag"] == "e2400_r224_in1k"  # timm's default recipe for the architecture
    model.reset_classifier(0)
    images = tb.synthetic_images(torch.Generator().manual_seed(5), 2, 224, 224,
                                 sidecar["pretrained_cfg"]["mean"], sidecar["pretrained_cfg"]["std"])
    with torch.no_grad():
        _, rel = tb.relative_difference(torch.jit.load(str(out))(images), model(images))
    assert rel <= TOLERANCE
    capsys.readouterr()

    # A tensor under another name: loaded non-strictly by timm (num_classes=0), so the
    # exporter must notice on its own.
    renamed = dict(state)
    renamed["conv_stem.kernel"] = renamed.pop("conv_stem.weight")
    save_file(renamed, str(tmp_path / "renamed.safetensors"))
    misfit = tmp_path / "misfit"
    assert export_backbone.main(["mobilenetv4_conv_small", "--weights", str(tmp_path / "renamed.safetensors"),
                                 "--out", str(misfit / "m.pt")]) == 1
    error = capsys.readouterr().err
    assert "does not fit mobilenetv4_conv_small" in error and "conv_stem.weight" in error
    assert "conv_stem.kernel" in error and error.count("\n") == 1

    # Another architecture's checkpoint: shapes differ.
    other = timm.create_model("mobilenetv4_conv_medium", pretrained=False)
    torch.save(other.state_dict(), str(tmp_path / "other.pth"))
    assert export_backbone.main(["mobilenetv4_conv_small", "--weights", str(tmp_path / "other.pth"),
                                 "--out", str(misfit / "m.pt")]) == 1
    error = capsys.readouterr().err
    assert "does not fit mobilenetv4_conv_small" in error and error.count("\n") == 1
    assert leftovers(misfit) == []


def test_input_size_and_recipe_flags(tmp_path):
    """A non-square size on a fixed-size ViT (built at that size) and on a CNN, and the
    recipe flags applied as timm applies its own arguments."""
    out = tmp_path / "vit.pt"
    assert export_backbone.main(["vit_small_patch16_224", "--weights", "random:2", "--input-size", "160,192",
                                 "--out", str(out)]) == 0
    sidecar = json.loads((tmp_path / "vit.pt.json").read_text())
    assert sidecar["pretrained_cfg"]["input_size"] == [3, 160, 192]
    assert sidecar["pretrained_cfg"]["fixed_input_size"] is True
    assert sidecar["export"]["traced_input"] == [2, 3, 160, 192]
    module = torch.jit.load(str(out))
    assert module(torch.zeros(1, 3, 160, 192)).shape == (1, 384)

    out = tmp_path / "cnn.pt"
    assert export_backbone.main(["mobilenetv4_conv_small", "--weights", "random:2", "--input-size", "200",
                                 "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--interpolation", "bilinear",
                                 "--crop-pct", "0.8", "--crop-mode", "squash", "--out", str(out)]) == 0
    cfg = json.loads((tmp_path / "cnn.pt.json").read_text())["pretrained_cfg"]
    assert cfg == {"input_size": [3, 200, 200], "interpolation": "bilinear", "crop_pct": 0.8, "crop_mode": "squash",
                   "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "fixed_input_size": False}


@pytest.mark.parametrize("flags", [["--input-size", "224,x"], ["--crop-pct", "1.5"], ["--method", "freeze"],
                                   ["--mean", "0.5,0.5"], ["--out-of-vocabulary"]])
def test_bad_flag_values_exit_2(flags, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_status:
        export_backbone.main(["resnet50", "--weights", "random:0", "--out", str(tmp_path / "r.pt"), *flags])
    assert exit_status.value.code == 2
    assert "export_backbone.py: error:" in capsys.readouterr().err
    assert leftovers(tmp_path) == []


def test_scripted_export_and_deterministic_bytes(tmp_path):
    first, second, scripted = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "s.pt"
    # Same model, same seed, two runs: the same bytes, so the same content address.
    # (Separate processes: TorchScript renames classes traced twice in one process.)
    for out in (first, second):
        result = run_exporter("mobilenetv4_conv_small", "--weights", "random:5", "--out", str(out))
        assert result.returncode == 0, result.stderr
    assert blake3_of(first) == blake3_of(second)
    # Its own process too: scripting after other models were traced in this process can
    # trip TorchScript's type cache (seen with pytest running the whole suite).
    result = run_exporter("mobilenetv4_conv_small", "--weights", "random:5", "--method", "script",
                          "--out", str(scripted))
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "s.pt.json").read_text())
    assert sidecar["export"]["method"] == "script" and sidecar["export"]["check"]["max_rel_diff"] <= TOLERANCE
    images = tb.synthetic_images(torch.Generator().manual_seed(1), 2, 224, 224, (0.5,) * 3, (0.25,) * 3)
    with torch.no_grad():
        _, rel = tb.relative_difference(torch.jit.load(str(scripted))(images), torch.jit.load(str(first))(images))
    assert rel <= TOLERANCE
