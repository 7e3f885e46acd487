//! A tiny seeded generator. Written out rather than taken from `rand` so that a
//! given `--seed` keeps giving the same shuffles and initial weights whatever
//! crate versions a later build resolves. It lives with the metrics because
//! both head-train (shuffles, initial weights) and the report (bootstrap
//! resamples) draw from it, and the report must not depend on head-train.

/// The SplitMix64 finaliser: a bijective avalanche of 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64 (Steele, Lea & Flood 2014).
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Independent streams for the same seed, one per purpose.
    pub fn new(seed: u64, stream: u64) -> Self {
        SplitMix64 {
            state: mix(seed ^ mix(stream.wrapping_add(0x9e37_79b9_7f4a_7c15))),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..bound` (multiply-shift; the bias is below 2^-40 for any
    /// realistic bound).
    pub fn below(&mut self, bound: usize) -> usize {
        ((self.next_u64() as u128 * bound as u128) >> 64) as usize
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}
