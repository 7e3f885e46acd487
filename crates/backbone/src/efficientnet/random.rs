//! Seeded random weights for benchmarks: every tensor a real file would hold,
//! initialised as torchvision initialises a fresh EfficientNet.

use std::collections::HashMap;

use tch::{Kind, Tensor};

use super::arch::Architecture;
use super::naming::{expected_tensors, ExpectedShape, Family};
use super::weights::TensorSource;
use crate::error::ModelError;

pub struct RandomSource {
    seed: u64,
    shapes: HashMap<String, Vec<i64>>,
}

impl RandomSource {
    pub fn new(arch: &Architecture, family: Family, seed: u64) -> RandomSource {
        let shapes = expected_tensors(arch, family)
            .into_iter()
            .filter_map(|tensor| match tensor.shape {
                ExpectedShape::Exact(shape) if tensor.required => Some((tensor.name, shape)),
                _ => None,
            })
            .collect();
        RandomSource { seed, shapes }
    }
}

impl TensorSource for RandomSource {
    /// Each tensor depends only on the seed and its name, not on the order asked.
    fn tensor_f64(&self, name: &str) -> Result<Tensor, ModelError> {
        let shape = self.shapes.get(name).ok_or_else(|| {
            ModelError::Torch(tch::TchError::TensorNameNotFound(
                name.to_string(),
                "random weights".to_string(),
            ))
        })?;
        let name_hash = blake3::hash(name.as_bytes());
        let mut seed_bytes = [0u8; 8];
        seed_bytes.copy_from_slice(&name_hash.as_bytes()[..8]);
        tch::manual_seed((self.seed ^ u64::from_le_bytes(seed_bytes)) as i64);
        let options = (Kind::Double, tch::Device::Cpu);
        let tensor = if shape.len() == 4 {
            // Kaiming normal, fan-out mode (torchvision's EfficientNet init).
            let fan_out = (shape[0] * shape[2] * shape[3]) as f64;
            Tensor::f_randn(shape.as_slice(), options)?.f_mul_scalar((2.0 / fan_out).sqrt())?
        } else if name.ends_with("running_var") || (name.ends_with(".weight") && shape.len() == 1) {
            Tensor::f_ones(shape.as_slice(), options)?
        } else {
            Tensor::f_zeros(shape.as_slice(), options)?
        };
        Ok(tensor)
    }
}
