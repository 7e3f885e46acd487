use std::path::PathBuf;

use crate::efficientnet::{Family, Padding, Variant};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: this is {what}, not safetensors. effprobe reads only safetensors weights \
         (pickle files can run code when loaded); convert it once in Python with \
         `safetensors.torch.save_file(torch.load(PATH, weights_only=True), OUT)`. A \
         backbone exported by tools/export_backbone.py is named in --variant ID=PATH instead"
    )]
    NotSafetensors { path: PathBuf, what: &'static str },
    #[error("{path}: not a valid safetensors file: {reason}")]
    BadSafetensors { path: PathBuf, reason: String },
    #[error(
        "{path}: cannot tell the weights family from the tensor names (expected torchvision's \
         `features.*`, timm's `conv_stem`, `blocks.*`, `conv_head`, or efficientnet_lite_pytorch's \
         `_conv_stem`, `_blocks.*`, `_conv_head`); first names: {sample}"
    )]
    UnknownFamily { path: PathBuf, sample: String },
    #[error("{path}: metadata {key} = {value:?}: {reason}")]
    BadMetadata {
        path: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    #[error(
        "{path}: a timm-named file does not say which padding its weights were trained with: \
         timm's `tf_efficientnet_*` ports of the TensorFlow weights need TensorFlow \"same\" \
         padding (and batch-norm eps 1e-3), the other `efficientnet_*` weights PyTorch \
         symmetric padding. Pass --padding same or --padding symmetric (the model card's \
         architecture name says which: a `tf_` prefix means same), or use a file converted \
         by effprobe, which records it in its metadata"
    )]
    PaddingUnknown { path: PathBuf },
    #[error("{path}: --padding {requested} contradicts the file's metadata (padding {recorded})")]
    PaddingConflict {
        path: PathBuf,
        recorded: Padding,
        requested: Padding,
    },
    #[error("{path}: torchvision EfficientNets use symmetric padding; --padding same applies to timm tf_ weights only")]
    TorchvisionSamePadding { path: PathBuf },
    #[error(
        "{path}: the file holds EfficientNet-{found} weights ({family} names), not {requested}: \
         pass --variant {found}"
    )]
    VariantMismatch {
        path: PathBuf,
        family: Family,
        requested: Variant,
        found: Variant,
    },
    #[error(
        "{path}: {family} publishes no EfficientNet-{variant}; the file cannot hold its weights"
    )]
    FamilyLacksVariant {
        path: PathBuf,
        family: Family,
        variant: Variant,
    },
    #[error(
        "{path}: not a complete EfficientNet-{variant} ({family} names){qualifier}; {count} problem(s):\n  {}",
        problems.join("\n  ")
    )]
    TensorProblems {
        path: PathBuf,
        family: Family,
        variant: Variant,
        /// Empty when the variant was requested; otherwise says it is only the closest match.
        qualifier: String,
        count: usize,
        problems: Vec<String>,
    },
    #[error("{path}: tensor {name} has data type {dtype}, expected a floating-point type")]
    UnsupportedDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    #[error(
        "{requested} was requested but libtorch sees no CUDA device ({why}); run `extract doctor`"
    )]
    CudaUnavailable { requested: String, why: String },
    #[error("cuda:{index} was requested but libtorch sees only {count} CUDA device(s)")]
    NoSuchCudaDevice { index: usize, count: i64 },
    #[error("unknown device {0:?}: expected auto, cpu, cuda or cuda:N")]
    UnknownDevice(String),
    #[error("unknown precision {0:?}: expected fp32, bf16 or fp16")]
    UnknownPrecision(String),
    #[error("input must be a [batch, 3, height, width] tensor, got {0:?}")]
    BadInput(Vec<i64>),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error(
        "--tune-top {requested}: EfficientNet-{variant} has {blocks} blocks; choose 1 to {blocks}"
    )]
    BadCut {
        variant: Variant,
        requested: usize,
        blocks: usize,
    },
    #[error("{path}: the weights changed since this backbone was loaded (blake3 {found}, loaded {expected})")]
    WeightsChanged {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("tune file: {0}")]
    Tune(String),
    #[error("{path}: {reason}")]
    BadModule { path: PathBuf, reason: String },
    #[error(
        "{what}: {id} is an exported module; this works on the native EfficientNet \
         (b0..b7, lite0..lite4) only"
    )]
    NativeOnly { id: String, what: &'static str },
}
