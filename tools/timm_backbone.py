"""A timm backbone with its weights, recipe and identity: what tools/export_backbone.py
exports and what crates/backbone/tests/python/timm_reference.py re-creates as the
eager reference. Python is fine here: this is a one-time conversion step and a test
reference, never on effprobe's path.

Weights specs (`--weights`):
  random[:SEED]      seeded random weights made well-conditioned (see `randomise`);
                     `random` is seed 0, as in effprobe's --weights
  [hf:]OWNER/NAME    a Hugging Face model repo in the LOCAL hub cache, loaded the way
                     timm loads `hf-hub:OWNER/NAME` (its config.json is the recipe;
                     a timm/ARCH.TAG repo without one: timm's own pretrained_cfg)
  ARCH.TAG           a timm pretrained name (e.g. convnext_tiny.in12k_ft_in1k), from
                     the LOCAL hub cache (timm's own hf_hub_id for that name)
  PATH               a checkpoint file (.safetensors, .pth, .pt, .bin, .npz), loaded
                     through timm's pretrained-file path (its checkpoint filter applies)

Nothing here reaches the network: HF_HUB_OFFLINE=1 is forced before huggingface_hub
is imported, and HF_HOME / HF_HUB_CACHE are honoured as huggingface_hub reads them.
"""
import difflib
import json
import os
import unittest.mock

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub (through timm) reads it

import blake3  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import timm  # noqa: E402
from torch.nn.modules.batchnorm import _BatchNorm  # noqa: E402

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".npz")
# Version of the random-weights procedure below; part of a random module's identity.
RANDOM_PROCEDURE = "effprobe-random/1"
CALIBRATION_BATCH = 8
CALIBRATION_PASSES = 2
# Residual branches' last norm weight is scaled by this (see damp_residual_branches).
RESIDUAL_BRANCH_GAIN = 0.25


class BackboneError(Exception):
    """A one-line, user-facing reason; `exit_code` 2 for a bad argument, 1 otherwise."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


# ---------------------------------------------------------------- names and specs


def check_model_name(model):
    """`model` is `ARCH` or `ARCH.TAG`, known to timm; returns (arch, tag or None)."""
    arch, tag = timm.models.split_model_name_tag(model)
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=5, cutoff=0.6)
        hint = f"; close names: {', '.join(close)}" if close else "; see timm.list_models('*PATTERN*')"
        raise BackboneError(f"timm has no model {arch!r}{hint}", exit_code=2)
    if tag and f"{arch}.{tag}" not in timm.list_pretrained(f"{arch}.*"):
        known = timm.list_pretrained(f"{arch}.*")
        close = difflib.get_close_matches(f"{arch}.{tag}", known, n=5, cutoff=0.0)
        raise BackboneError(
            f"timm has no pretrained tag {tag!r} for {arch}; known: {', '.join(close) or 'none'}", exit_code=2)
    return arch, tag or None


def looks_like_hub_name(text):
    """OWNER/NAME that is not a path: effprobe's rule for a Hugging Face cache name."""
    parts = text.split("/")
    return (len(parts) == 2 and all(part and part not in (".", "..") for part in parts)
            and not text.lower().endswith(CHECKPOINT_SUFFIXES) and not os.path.exists(text))


def parse_weights_spec(spec):
    """('random', seed) | ('hf', repo_id) | ('timm', 'arch.tag') | ('file', abs_path)."""
    if spec == "random":
        return "random", 0  # as effprobe's --weights random
    if spec.startswith("random:"):
        seed = spec[len("random:"):]
        if not seed.isdigit():
            raise BackboneError(f"--weights {spec!r}: random:SEED needs a non-negative integer seed", exit_code=2)
        return "random", int(seed)
    if spec.startswith("hf:"):
        repo = spec[len("hf:"):]
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise BackboneError(f"--weights {spec!r}: hf: needs OWNER/NAME (e.g. hf:timm/resnet50.a1_in1k)",
                                exit_code=2)
        return "hf", repo
    if looks_like_hub_name(spec):
        return "hf", spec
    if spec.lower().endswith(CHECKPOINT_SUFFIXES) or os.path.sep in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise BackboneError(f"--weights {spec}: no such file", exit_code=2)
        return "file", path
    arch, tag = timm.models.split_model_name_tag(spec)
    if tag and timm.is_model(arch):
        check_model_name(spec)
        return "timm", spec
    raise BackboneError(
        f"--weights {spec!r}: not random[:SEED], [hf:]OWNER/NAME, a timm pretrained name (ARCH.TAG) "
        f"or a checkpoint file ({', '.join(CHECKPOINT_SUFFIXES)})", exit_code=2)


# ---------------------------------------------------------------- the local hub cache


def fetch_command(repo, cache_dir=None):
    return f"hf download {repo}" + (f" --cache-dir {cache_dir}" if cache_dir else "")


def cached_file(repo, filename, cache_dir=None):
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, cache_dir=cache_dir)
    return found if isinstance(found, str) else None


def cached_weights_file(repo, cfg, cache_dir=None):
    """The file timm's load_state_dict_from_hf would read, in its order of preference."""
    names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else ["model.safetensors", "pytorch_model.bin"]
    for name in names:
        found = cached_file(repo, name, cache_dir)
        if found:
            return found
    from huggingface_hub import constants

    raise BackboneError(
        f"weights of {repo} ({' or '.join(names)}) are not in the local Hugging Face cache "
        f"({cache_dir or constants.HF_HUB_CACHE}); fetch them with: {fetch_command(repo, cache_dir)}")


# ---------------------------------------------------------------- building


def blake3_file(path):
    hasher = blake3.blake3()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


class _LoadRecorder:
    """Records what every load_state_dict call during model creation left out, because
    timm loads non-strictly when num_classes changes and only logs missing keys."""

    def __init__(self):
        self.calls = []
        self.original = torch.nn.Module.load_state_dict

    def __enter__(self):
        recorder = self

        def recording(module, state_dict, strict=True, assign=False):
            result = recorder.original(module, state_dict, strict=strict, assign=assign)
            recorder.calls.append((module, result))
            return result

        self.patch = unittest.mock.patch.object(torch.nn.Module, "load_state_dict", recording)
        self.patch.start()
        return self

    def __exit__(self, *exc):
        self.patch.stop()
        return False


def _first_line(error):
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # torch's size-mismatch errors put the useful part on the second line
    useful = [line for line in lines if "size mismatch" in line or "Missing key" in line or "Unexpected key" in line]
    return (useful or lines or [type(error).__name__])[0]


def _create(name, pretrained, size_kwargs, overlay=None, scriptable=False, cache_dir=None):
    kwargs = dict(pretrained=pretrained, num_classes=0, cache_dir=cache_dir, **size_kwargs)
    if overlay:
        kwargs["pretrained_cfg_overlay"] = overlay
    with timm.layers.set_layer_config(scriptable=scriptable or None, exportable=scriptable or None), \
            _LoadRecorder() as recorder:
        model = timm.create_model(name, **kwargs)
    return model, recorder


def _check_loaded(model, recorder, source, arch):
    """Refuses a checkpoint whose tensors did not all land in the model (or vice versa).
    Missing buffers the model computes itself (index tables, masks; BatchNorm's
    num_batches_tracked) are fine; a missing parameter or running mean/var is not."""
    calls = [result for module, result in recorder.calls if module is model]
    if not calls:
        return  # a custom loader (e.g. timm's .npz reader) that checks its own keys
    parameters = {name for name, _ in model.named_parameters()}

    def needed(key):
        return key in parameters or key.rsplit(".", 1)[-1] in ("running_mean", "running_var")

    missing = [key for result in calls for key in result.missing_keys if needed(key)]
    unexpected = [key for result in calls for key in result.unexpected_keys]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} model tensors missing from it (first: {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} of its tensors unknown to the model (first: {', '.join(unexpected[:3])})")
        raise BackboneError(f"{source} does not fit {arch}: {'; '.join(parts)}")


def size_kwargs_for(arch, input_size):
    """Models with a fixed input size (ViT position embeddings) are built at the size
    asked for; others take any size and need nothing."""
    if input_size is None:
        return {}
    cfg = timm.models.get_pretrained_cfg(arch)
    return {"img_size": tuple(input_size)} if cfg is not None and cfg.fixed_input_size else {}


class Backbone:
    """A timm model (num_classes=0, eval, float32, CPU) and where its tensors came from.
    `tag` is the timm pretrained tag whose pretrained_cfg the model carries, i.e. whose
    recipe it uses (for random weights and files too: MODEL's tag, or timm's default
    tag for the architecture); `spec` says where the tensors came from."""

    def __init__(self, model, arch, spec, weights_blake3, weights_file=None):
        self.model = model
        self.arch, self.tag = arch, model.pretrained_cfg.get("tag") or None
        self.spec = spec
        self.weights_blake3 = weights_blake3
        self.weights_file = weights_file

    @property
    def name(self):
        """ARCH.TAG (or ARCH): rebuilds this model with the same recipe."""
        return f"{self.arch}.{self.tag}" if self.tag else self.arch


def build(model_name, weights, input_size=None, scriptable=False, cache_dir=None):
    """The timm model `model_name` (ARCH or ARCH.TAG) with the weights `weights` (a spec,
    see the module doc), built at `input_size` (H, W) where the model needs to know;
    `cache_dir` is the Hugging Face cache (default: as huggingface_hub resolves it)."""
    arch, model_tag = check_model_name(model_name)
    kind, value = parse_weights_spec(weights)
    try:
        size_kwargs = size_kwargs_for(arch, input_size)
    except TypeError as error:
        raise BackboneError(f"{arch} cannot be built at another input size: {_first_line(error)}", exit_code=2)

    def create(*args, **kwargs):
        try:
            return _create(*args, scriptable=scriptable, cache_dir=cache_dir, **kwargs)
        except BackboneError:
            raise
        except TypeError as error:
            if size_kwargs and "img_size" in str(error):
                raise BackboneError(f"{arch} takes only its fixed input size: {_first_line(error)}", exit_code=2)
            raise
        except RuntimeError as error:
            raise BackboneError(f"{weights} does not fit {arch}: {_first_line(error)}")

    if kind == "random":
        torch.manual_seed(value)
        model, _ = create(model_name, False, size_kwargs)
        model.eval()
        size = resolved_input_size(model, input_size)
        randomise(model, value, size)
        identity = random_identity(recipe_name(arch, model), value, size)
        backbone = Backbone(model, arch, f"random:{value}", blake3.blake3(identity.encode()).hexdigest())
    elif kind == "file":
        # custom_load means timm's .npz reader; any other file goes through load_state_dict
        overlay = {"file": value, "custom_load": value.lower().endswith(".npz")}
        model, recorder = create(model_name, True, size_kwargs, overlay=overlay)
        _check_loaded(model, recorder, value, arch)
        backbone = Backbone(model, arch, f"file:{value}", blake3_file(value), weights_file=value)
    else:
        repo = value if kind == "hf" else None
        timm_name = value if kind == "timm" else timm_name_of_repo(value)
        config_path = cached_file(repo, "config.json", cache_dir) if repo else None
        if timm_name and not config_path:
            # timm's own pretrained name: timm's pretrained_cfg is the recipe
            weights_arch, weights_tag = timm.models.split_model_name_tag(timm_name)
            if weights_arch != arch or (model_tag and model_tag != weights_tag):
                raise BackboneError(f"--weights {weights} are {timm_name}'s, not for the model {model_name}",
                                    exit_code=2)
            cfg = timm.models.get_pretrained_cfg(timm_name).to_dict()
            repo = cfg.get("hf_hub_id")
            if not repo:
                raise BackboneError(f"timm's {timm_name} is not on the Hugging Face hub ({cfg.get('url') or 'no url'})"
                                    "; download the file and pass its path to --weights")
            file = cached_weights_file(repo, cfg, cache_dir)
            model, recorder = create(timm_name, True, size_kwargs)
        else:
            # a timm model repo: its config.json is the recipe (and the architecture's arguments)
            if not config_path:
                raise BackboneError(f"hf:{repo}: no config.json in the local Hugging Face cache (a timm model repo "
                                    f"has one); fetch the repo with: {fetch_command(repo, cache_dir)}")
            with open(config_path) as handle:
                config = json.load(handle)
            cfg = config.get("pretrained_cfg") or config
            repo_arch = config.get("architecture")
            if repo_arch != arch or (model_tag and model_tag != cfg.get("tag")):
                raise BackboneError(f"hf:{repo} holds a {repo_arch!r} (its config.json), not the model {model_name}",
                                    exit_code=2)
            file = cached_weights_file(repo, cfg, cache_dir)
            model, recorder = create(f"hf-hub:{repo}", True, size_kwargs)
        _check_loaded(model, recorder, file, arch)
        backbone = Backbone(model, arch, f"hf:{repo}", blake3_file(file), weights_file=file)
    backbone.model.eval()
    for parameter in backbone.model.parameters():
        parameter.requires_grad_(False)
    return backbone


def resolved_input_size(model, input_size):
    if input_size is not None:
        return tuple(input_size)
    return tuple(model.pretrained_cfg["input_size"][1:])


def recipe_name(arch, model):
    tag = model.pretrained_cfg.get("tag")
    return f"{arch}.{tag}" if tag else arch


def random_identity(name, seed, size):
    """The text whose blake3 names random weights: every input that changes the tensors
    (the recipe's tag: calibration uses its mean and std)."""
    return f"random:{name}:seed={seed}:input={size[0]}x{size[1]}:{RANDOM_PROCEDURE}"


def timm_name_of_repo(repo):
    """The timm pretrained name whose hf_hub_id is `repo` (timm/ARCH.TAG), if any."""
    owner, name = repo.split("/", 1)
    arch, tag = timm.models.split_model_name_tag(name)
    if not tag or not timm.is_model(arch):
        return None
    cfg = timm.models.get_pretrained_cfg(name)
    return name if cfg is not None and cfg.hf_hub_id == repo else None


# ---------------------------------------------------------------- recipe and facts


def data_config(model, input_size=None, overrides=None):
    """timm's `resolve_data_config(model=...)` (what timm's own transform uses), with the
    recipe values asked for on the command line applied the way timm applies `args`,
    plus `fixed_input_size` from the model's pretrained_cfg."""
    args = dict(overrides or {})
    if input_size is not None:
        args["input_size"] = (3, *input_size)
    cfg = timm.data.resolve_data_config(args=args, model=model)
    return {
        "input_size": [int(v) for v in cfg["input_size"]],
        "interpolation": cfg["interpolation"],
        "crop_pct": float(cfg["crop_pct"]),
        "crop_mode": cfg["crop_mode"],
        "mean": [float(v) for v in cfg["mean"]],
        "std": [float(v) for v in cfg["std"]],
        "fixed_input_size": bool(model.pretrained_cfg.get("fixed_input_size", False)),
    }


def pooling(model):
    """timm's global_pool as created: a string on ViT-likes, SelectAdaptivePool2d's
    pool_type on CNNs (on the model or on its head)."""
    for owner in (model, getattr(model, "head", None)):
        pool = getattr(owner, "global_pool", None) if owner is not None else None
        if isinstance(pool, str):
            return pool
        if pool is not None and hasattr(pool, "pool_type"):
            return pool.pool_type or "none"
    raise BackboneError(f"cannot tell how {type(model).__name__} pools its features (no global_pool)")


class PreLogits(torch.nn.Module):
    """The pooled pre-logits features: forward_head(forward_features(x), pre_logits=True)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


# ---------------------------------------------------------------- random weights


def synthetic_images(generator, batch, height, width, mean, std):
    """Natural-image-like inputs, normalised with the recipe's mean/std: in [0, 1] pixel
    space, a sum of smooth random fields at 2..32 cells per side with amplitude falling
    with frequency (roughly 1/f), colour channels correlated, a little pixel noise,
    a random brightness per image and channel, squashed into (0, 1) by a sigmoid."""
    pixels = torch.zeros(batch, 3, height, width)
    for cells, amplitude in ((2, 1.0), (4, 0.6), (8, 0.35), (16, 0.2), (32, 0.1)):
        field = torch.randn(batch, 3, cells, cells, generator=generator)
        field = field + 0.8 * field.mean(dim=1, keepdim=True)
        pixels += amplitude * F.interpolate(field, size=(height, width), mode="bicubic", align_corners=False)
    pixels += 0.03 * torch.randn(batch, 3, height, width, generator=generator)
    pixels = torch.sigmoid(pixels + 0.5 * torch.randn(batch, 3, 1, 1, generator=generator))
    mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (pixels - mean) / std


def randomise(model, seed, size):
    """Seeded random weights that behave like trained ones numerically, so that a 1e-4
    comparison tests the export rather than float32 rounding, and every tensor matters:

    1. timm's own initialisation under torch.manual_seed(SEED) (done by the caller).
    2. Parameters timm initialises to constants are redrawn from a generator seeded with
       SEED: the affine weight of every normalisation layer (class name contains "Norm":
       BatchNorm, LayerNorm, GroupNorm, RmsNorm, ...) ~ U(0.5, 1.5) and its bias
       ~ N(0, 0.1); every 1-D parameter named `gamma` (layer scale: ConvNeXt, DINOv2,
       MobileNetV4 hybrids) ~ U(0.1, 0.3). Without this, ResNet's zero-initialised last
       BatchNorm of each block, ConvNeXt's 1e-6 and DINOv2's 1e-5 layer scales switch
       the residual branches off and a wrong branch would pass any comparison.
    3. Residual branches damped (`damp_residual_branches`): the last BatchNorm weight of
       each residual branch x RESIDUAL_BRANCH_GAIN (0.25). At unit gain the residual
       stream of a deep random CNN grows block after block (tf_efficientnetv2_s: pooled
       features up to 350) and float32 and float64 disagree by up to 6e-4; damped, the
       network stays in the ordered regime trained networks are in (2e-6).
    4. BatchNorm running statistics are calibrated: reset, momentum None (cumulative
       average), only the BatchNorm layers in train mode (dropout and drop-path stay
       off), CALIBRATION_PASSES forward passes of CALIBRATION_BATCH `synthetic_images`
       (generator seeded with SEED + 1) at the input size `size` (the recipe's unless
       --input-size says otherwise) and the recipe's mean and std.
       Un-calibrated running statistics (mean 0, var 1) leave activations growing
       through the network until float32 and float64 disagree at the 10% level.
       Models without BatchNorm need no calibration and get no forward pass.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            weight = getattr(module, "weight", None)
            if "Norm" in type(module).__name__ and isinstance(weight, torch.nn.Parameter):
                weight.copy_(torch.empty_like(weight).uniform_(0.5, 1.5, generator=generator))
                bias = getattr(module, "bias", None)
                if isinstance(bias, torch.nn.Parameter):
                    bias.copy_(torch.empty_like(bias).normal_(0.0, 0.1, generator=generator))
        for name, parameter in model.named_parameters():
            if name.rsplit(".", 1)[-1] == "gamma" and parameter.ndim == 1:
                parameter.copy_(torch.empty_like(parameter).uniform_(0.1, 0.3, generator=generator))
    damp_residual_branches(model)
    norms = [module for module in model.modules() if isinstance(module, _BatchNorm)]
    if not norms:
        return
    cfg = data_config(model)
    height, width = size
    calibration = torch.Generator().manual_seed(seed + 1)
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    with torch.no_grad():
        for _ in range(CALIBRATION_PASSES):
            model(synthetic_images(calibration, CALIBRATION_BATCH, height, width, cfg["mean"], cfg["std"]))
    model.eval()


def damp_residual_branches(model):
    """Scales the last BatchNorm weight of every residual branch by RESIDUAL_BRANCH_GAIN,
    as timm's zero_init_last does but not to zero: the blocks timm marks as residual
    (`has_skip`: EfficientNet, MobileNet, MobileNetV4 blocks; the norm last in the
    block's module order), and the norm weights a block's own `zero_init_last` zeroes
    (ResNet-style blocks, found by calling it and restoring the scaled values)."""
    with torch.no_grad():
        for module in model.modules():
            if getattr(module, "has_skip", False) is True:
                norms = [norm for norm in module.modules() if isinstance(norm, _BatchNorm)]
                if norms and norms[-1].weight is not None:
                    norms[-1].weight.mul_(RESIDUAL_BRANCH_GAIN)
            elif callable(getattr(module, "zero_init_last", None)):
                before = {name: p.clone() for name, p in module.named_parameters()}
                module.zero_init_last()
                for name, parameter in module.named_parameters():
                    if not torch.equal(parameter, before[name]):
                        parameter.copy_(before[name] * RESIDUAL_BRANCH_GAIN)


def relative_difference(actual, expected):
    """max|a - b| / max|b| over the batch (the norm effprobe's conformance tests use)."""
    expected = expected.double()
    scale = expected.abs().max().item()
    diff = (actual.double() - expected).abs().max().item()
    return diff, (diff / scale if scale > 0 else float("inf") if diff > 0 else 0.0)
