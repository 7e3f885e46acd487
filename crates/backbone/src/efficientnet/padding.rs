//! Convolution padding: PyTorch's symmetric `(k - 1) / 2`, or TensorFlow's "same",
//! which depends on the input size and puts the odd pixel at the bottom/right.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `(kernel - 1) / 2` on every side (torchvision, timm's non-`tf_` models).
    Symmetric,
    /// TensorFlow "SAME" (timm's `tf_` ports of the original TF weights).
    Same,
}

impl Padding {
    pub fn name(self) -> &'static str {
        match self {
            Padding::Symmetric => "symmetric",
            Padding::Same => "same",
        }
    }

    /// A timm architecture name says which padding its weights need:
    /// `tf_efficientnet_b3` is a TensorFlow port.
    pub fn for_timm_architecture(architecture: &str) -> Padding {
        if architecture.starts_with("tf_") {
            Padding::Same
        } else {
            Padding::Symmetric
        }
    }
}

impl fmt::Display for Padding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown padding {0:?}: expected `same` (TensorFlow) or `symmetric` (PyTorch)")]
pub struct UnknownPadding(pub String);

impl FromStr for Padding {
    type Err = UnknownPadding;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "same" | "tf" => Ok(Padding::Same),
            "symmetric" => Ok(Padding::Symmetric),
            _ => Err(UnknownPadding(text.to_string())),
        }
    }
}

/// Total "same" padding along one axis so the output has `ceil(size / stride)`
/// positions (timm `get_same_padding` with dilation 1).
pub fn same_padding_total(size: i64, kernel: i64, stride: i64) -> i64 {
    let out = (size + stride - 1) / stride;
    ((out - 1) * stride + kernel - size).max(0)
}

/// `(before, after)` "same" padding along one axis; the extra pixel goes after
/// (timm `pad_same_arg`).
pub fn same_padding(size: i64, kernel: i64, stride: i64) -> (i64, i64) {
    let total = same_padding_total(size, kernel, stride);
    (total / 2, total - total / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-worked TensorFlow "SAME" cases: out = ceil(n / s),
    /// total = max((out - 1) * s + k - n, 0), before = total / 2.
    #[test]
    fn same_padding_on_odd_and_even_sizes() {
        let cases = [
            // (size, kernel, stride, before, after)
            (224, 3, 2, 0, 1),
            (225, 3, 2, 1, 1),
            (224, 5, 2, 1, 2),
            (225, 5, 2, 2, 2),
            (224, 3, 1, 1, 1),
            (225, 3, 1, 1, 1),
            (224, 5, 1, 2, 2),
            (225, 5, 1, 2, 2),
            (7, 5, 2, 2, 2),
            (8, 5, 2, 1, 2),
            (1, 3, 2, 1, 1),
            (2, 5, 2, 1, 2),
        ];
        for (size, kernel, stride, before, after) in cases {
            assert_eq!(
                same_padding(size, kernel, stride),
                (before, after),
                "size {size} kernel {kernel} stride {stride}"
            );
        }
    }

    #[test]
    fn same_padding_gives_ceil_output_size() {
        for size in 1..80 {
            for kernel in [1, 3, 5] {
                for stride in [1, 2] {
                    let (before, after) = same_padding(size, kernel, stride);
                    let out = (size + before + after - kernel) / stride + 1;
                    assert_eq!(
                        out,
                        (size + stride - 1) / stride,
                        "{size} {kernel} {stride}"
                    );
                    assert!(after - before == 0 || after - before == 1);
                }
            }
        }
    }

    #[test]
    fn stride_one_odd_kernel_is_symmetric() {
        for size in [6, 7, 224, 225] {
            assert_eq!(same_padding(size, 3, 1), (1, 1));
            assert_eq!(same_padding(size, 5, 1), (2, 2));
        }
    }

    #[test]
    fn names_parse() {
        assert_eq!("same".parse::<Padding>(), Ok(Padding::Same));
        assert_eq!("Symmetric".parse::<Padding>(), Ok(Padding::Symmetric));
        assert!("valid".parse::<Padding>().is_err());
        assert_eq!(
            Padding::for_timm_architecture("tf_efficientnet_b3"),
            Padding::Same
        );
        assert_eq!(
            Padding::for_timm_architecture("efficientnet_b3"),
            Padding::Symmetric
        );
    }
}
