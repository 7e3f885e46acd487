//! The expected calibration error (Guo et al. 2017).

/// Equal-width confidence bins.
pub const CALIBRATION_BINS: usize = 15;

/// `Σ_b (n_b / n) |accuracy_b − mean confidence_b|` over [`CALIBRATION_BINS`]
/// bins of each row's confidence in its predicted class (0 without rows).
pub fn expected_calibration_error(confidences: &[f64], hits: &[bool]) -> f64 {
    let mut count = [0usize; CALIBRATION_BINS];
    let mut confidence = [0.0f64; CALIBRATION_BINS];
    let mut right = [0usize; CALIBRATION_BINS];
    for (c, h) in confidences.iter().zip(hits) {
        let bin = ((c * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        count[bin] += 1;
        confidence[bin] += c;
        right[bin] += usize::from(*h);
    }
    let n = confidences.len().max(1) as f64;
    (0..CALIBRATION_BINS)
        .filter(|&b| count[b] > 0)
        .map(|b| (right[b] as f64 - confidence[b]).abs() / n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_error_of_a_perfectly_calibrated_bin_is_zero() {
        assert!(expected_calibration_error(&[0.75; 4], &[true, true, true, false]).abs() < 1e-12);
        assert!((expected_calibration_error(&[1.0, 1.0], &[true, false]) - 0.5).abs() < 1e-12);
    }
}
