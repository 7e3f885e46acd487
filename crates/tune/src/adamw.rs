//! AdamW (Loshchilov & Hutter) as `torch.optim.AdamW` computes it: decoupled
//! weight decay first, then the bias-corrected Adam step. Written over plain
//! tensors so the state follows the top's fixed parameter order.

use tch::Tensor;

pub struct AdamW {
    parameters: Vec<Tensor>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    step: i32,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl AdamW {
    pub fn new(parameters: Vec<Tensor>, weight_decay: f64) -> Result<Self, tch::TchError> {
        let zeros = |p: &Tensor| p.f_zeros_like();
        Ok(AdamW {
            first: parameters.iter().map(zeros).collect::<Result<_, _>>()?,
            second: parameters.iter().map(zeros).collect::<Result<_, _>>()?,
            parameters,
            step: 0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        })
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.parameters {
            p.zero_grad();
        }
    }

    /// One update with learning rate `lr` from the gradients of the last backward.
    pub fn step(&mut self, lr: f64) -> Result<(), tch::TchError> {
        self.step += 1;
        let correction1 = 1.0 - self.beta1.powi(self.step);
        let correction2 = 1.0 - self.beta2.powi(self.step);
        tch::no_grad(|| -> Result<(), tch::TchError> {
            for ((p, m), v) in self
                .parameters
                .iter_mut()
                .zip(&mut self.first)
                .zip(&mut self.second)
            {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                let _ = p.f_mul_scalar_(1.0 - lr * self.weight_decay)?;
                let _ = m
                    .f_mul_scalar_(self.beta1)?
                    .f_add_(&grad.f_mul_scalar(1.0 - self.beta1)?)?;
                let _ = v
                    .f_mul_scalar_(self.beta2)?
                    .f_add_(&grad.f_mul(&grad)?.f_mul_scalar(1.0 - self.beta2)?)?;
                let denominator = v
                    .f_div_scalar(correction2)?
                    .f_sqrt()?
                    .f_add_scalar(self.eps)?;
                let update = m.f_div(&denominator)?.f_mul_scalar(lr / correction1)?;
                let _ = p.f_sub_(&update)?;
            }
            Ok(())
        })
    }
}
