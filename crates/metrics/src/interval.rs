//! The Wilson score interval (Wilson 1927) for a proportion: it keeps its
//! coverage near 0 and 1, where the normal approximation does not.

use crate::Interval;

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval for `successes` of `n` at `z`; `None` for `n = 0`.
pub fn wilson(successes: usize, n: usize, z: f64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n_f)) / (1.0 + z2 / n_f);
    let half = z / (1.0 + z2 / n_f) * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    Some(Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// [`wilson`] at 95%.
pub fn wilson95(successes: usize, n: usize) -> Option<Interval> {
    wilson(successes, n, Z95)
}
