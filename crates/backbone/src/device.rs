//! Where and in what precision a backbone runs.

use std::fmt;
use std::str::FromStr;

use tch::{Cuda, Device, Kind, Tensor};

use crate::error::ModelError;

/// `--device auto|cpu|cuda|cuda:N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceRequest {
    /// The first CUDA device if libtorch sees one, else the CPU.
    Auto,
    Cpu,
    Cuda(usize),
}

impl DeviceRequest {
    /// The device to run on. An explicit CUDA request without a usable GPU is an
    /// error, never a quiet fall-back to the CPU.
    pub fn resolve(self) -> Result<Device, ModelError> {
        match self {
            DeviceRequest::Auto => Ok(Device::cuda_if_available()),
            DeviceRequest::Cpu => Ok(Device::Cpu),
            DeviceRequest::Cuda(index) => {
                if !Cuda::is_available() {
                    let why = if crate::runtime::RuntimeReport::inspect().libtorch_cuda_loaded {
                        "no GPU or driver visible"
                    } else {
                        "this libtorch has no CUDA support loaded"
                    };
                    return Err(ModelError::CudaUnavailable {
                        requested: self.to_string(),
                        why: why.to_string(),
                    });
                }
                let count = Cuda::device_count();
                if index as i64 >= count {
                    return Err(ModelError::NoSuchCudaDevice { index, count });
                }
                Ok(Device::Cuda(index))
            }
        }
    }
}

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceRequest::Auto => f.write_str("auto"),
            DeviceRequest::Cpu => f.write_str("cpu"),
            DeviceRequest::Cuda(index) => write!(f, "cuda:{index}"),
        }
    }
}

impl FromStr for DeviceRequest {
    type Err = ModelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "auto" => Ok(DeviceRequest::Auto),
            "cpu" => Ok(DeviceRequest::Cpu),
            "cuda" => Ok(DeviceRequest::Cuda(0)),
            _ => lower
                .strip_prefix("cuda:")
                .and_then(|index| index.parse().ok())
                .map(DeviceRequest::Cuda)
                .ok_or_else(|| ModelError::UnknownDevice(text.to_string())),
        }
    }
}

/// `--precision fp32|bf16|fp16`: the type the convolutions run in. Pooled
/// features are always averaged and returned in fp32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Fp32,
    Bf16,
    Fp16,
}

impl Precision {
    pub fn kind(self) -> Kind {
        match self {
            Precision::Fp32 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
            Precision::Fp16 => Kind::Half,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = ModelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "fp32" | "float32" => Ok(Precision::Fp32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "fp16" | "float16" | "half" => Ok(Precision::Fp16),
            _ => Err(ModelError::UnknownPrecision(text.to_string())),
        }
    }
}

/// How activations are laid out in memory; convolutions are usually faster in
/// NHWC ("channels last") on GPUs with tensor cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryLayout {
    Contiguous,
    ChannelsLast,
}

impl MemoryLayout {
    /// The faster layout on `device`: channels-last everywhere. On this project's
    /// 2-core CPU, `extract bench --variant b0 --batch-size 16` ran 1.6-3.3x faster
    /// channels-last (oneDNN's depthwise kernels are NHWC); cuDNN's tensor-core
    /// convolutions prefer NHWC too.
    pub fn preferred_for(device: Device) -> MemoryLayout {
        match device {
            Device::Cpu | Device::Cuda(_) => MemoryLayout::ChannelsLast,
            _ => MemoryLayout::Contiguous,
        }
    }
}

/// Where, in what type and layout, a network's parameters and activations live.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    pub device: Device,
    pub precision: Precision,
    pub layout: MemoryLayout,
}

impl Placement {
    /// `layout` of `None`: the faster one for the device.
    pub fn new(device: Device, precision: Precision, layout: Option<MemoryLayout>) -> Placement {
        Placement {
            device,
            precision,
            layout: layout.unwrap_or_else(|| MemoryLayout::preferred_for(device)),
        }
    }

    /// fp32 on the CPU in its faster layout: the reference placement of tests.
    pub fn cpu() -> Placement {
        Placement::new(Device::Cpu, Precision::Fp32, None)
    }

    pub fn kind(&self) -> Kind {
        self.precision.kind()
    }

    /// `tensor` converted to this placement's type, device and layout.
    pub fn place(&self, tensor: &Tensor) -> Result<Tensor, tch::TchError> {
        let moved = tensor.f_to_kind(self.kind())?.f_to_device(self.device)?;
        if self.layout == MemoryLayout::ChannelsLast && moved.dim() == 4 {
            to_channels_last(&moved)
        } else {
            Ok(moved)
        }
    }

    /// `cuda:0`, `cpu`: as the run record and predict's summary show it.
    pub fn device_name(&self) -> String {
        device_name(self.device)
    }
}

pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(index) => format!("cuda:{index}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// NCHW shape with NHWC strides: what PyTorch's `channels_last` memory format is
/// (tch exposes no memory-format API; convolutions keep the layout they are given).
pub fn to_channels_last(tensor: &Tensor) -> Result<Tensor, tch::TchError> {
    tensor
        .f_permute([0, 2, 3, 1])?
        .f_contiguous()?
        .f_permute([0, 3, 1, 2])
}

extern "C" {
    // src/fp32.cpp
    fn effprobe_set_cuda_fp32_ieee(ieee: i32);
    fn effprobe_cuda_fp32_is_ieee() -> i32;
}

/// Makes float32 mean IEEE float32 on CUDA for every operation libtorch runs in
/// this process (`false`: PyTorch's default, TF32 convolutions).
pub fn set_cuda_fp32_ieee(ieee: bool) {
    // SAFETY: the shim takes and returns plain integers and only sets flags in
    // ATen's global context.
    unsafe { effprobe_set_cuda_fp32_ieee(i32::from(ieee)) }
}

/// Whether CUDA float32 convolutions, matmuls and RNNs are IEEE float32.
pub fn cuda_fp32_is_ieee() -> bool {
    // SAFETY: as above; a read of ATen's global context.
    unsafe { effprobe_cuda_fp32_is_ieee() != 0 }
}

/// Process-wide libtorch settings a network on `placement` needs: IEEE float32
/// (`--precision fp32` means fp32 on a GPU too, TorchScript modules included),
/// and cuDNN's autotuning on CUDA (extraction feeds one input size per backbone,
/// so its per-shape search for the fastest convolution pays for itself after the
/// first batch).
pub fn configure_libtorch(placement: &Placement) {
    set_cuda_fp32_ieee(true);
    if placement.device.is_cuda() {
        tch::Cuda::cudnn_set_benchmark(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The switch reaches ATen and reads back (on a CPU-only machine too: the
    /// flags live in the global context, not on a device).
    #[test]
    fn the_fp32_switch_reaches_aten() {
        set_cuda_fp32_ieee(false);
        assert!(!cuda_fp32_is_ieee(), "PyTorch's default: TF32 convolutions");
        configure_libtorch(&Placement::cpu());
        assert!(cuda_fp32_is_ieee());
    }
}
