//! Seeded generators, one home for every seeded draw rnnlab makes. Nothing in rnnlab draws from libtorch's
//! process-wide default generator: each draw comes from a generator its owner seeded, so results never depend on
//! what else runs in the process.
//!
//! - [`SplitMix64`]: a tiny Rust-side generator (Steele, Lea & Flood 2014) for draws that must not depend on
//!   libtorch: the learning-rate candidates ([`crate::config::TrainConfig::learning_rates`]), the per-epoch seeds of
//!   the noise generator, and the random shapes of `rnnlab validate`.
//! - [`Rng`]: an `at::Generator` of the owner's (`src/ffi/rng.cpp`): a run's initial weights and weight noise, the
//!   inputs of `rnnlab validate` and `rnnlab bench`, the draws of a speech sample.
//!
//! Shuffling and bucketing of batches use a ChaCha8 stream per epoch instead (see [`crate::data::batch`]).

mod generator;

pub use generator::Rng;

/// SplitMix64: a 64-bit state advanced by a constant, then mixed. Every output is a pure function of the seed and the
/// number of draws before it.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose stream is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1) with 53 random bits.
    pub fn uniform01(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    /// The reference outputs of SplitMix64 seeded with 0 (as in Vigna's splitmix64.c), and the [0, 1) draw made
    /// from the first of them.
    #[test]
    fn splitmix64_matches_the_reference_stream() {
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(g.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(g.next_u64(), 0x06c4_5d18_8009_454f);
        let u = SplitMix64::new(0).uniform01();
        assert_eq!(
            u,
            (0xe220_a839_7b1d_cdafu64 >> 11) as f64 / (1u64 << 53) as f64
        );
        assert!((0.0..1.0).contains(&u));
    }
}
