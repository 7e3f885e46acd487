//! Where and in what precision a backbone runs.

use std::fmt;
use std::str::FromStr;

use tch::{Cuda, Device, Kind};

use super::error::ModelError;

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
