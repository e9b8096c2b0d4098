//! Sampling a piano roll from a model's per-key probabilities, free of libtorch so it can be tested alone.
//!
//! The music model predicts frame `t + 1` from frames `..= t` as 88 independent Bernoulli probabilities
//! `p_k = σ(logit_k)`. Generation:
//! ```text
//! primer frames x_1..x_P (the first frames of a test piece), or, with no primer, one silent frame x_0
//! feed each primer frame in turn (teacher forcing); the output after the last one gives p for frame P + 1
//! x_{t+1} = draw(p_t), fed back as the next input, for N frames
//! ```
//! `draw` is [`SampleMode::Bernoulli`] (key k on with probability p_k, independently) or
//! [`SampleMode::MostLikely`] (key k on iff p_k > 0.5, the most likely frame under the independent model; a key at
//! exactly 0.5 stays off). Draws come from a ChaCha8 stream seeded with `seed` (rand 0.8 + rand_chacha 0.3, as
//! rnnlab's batch shuffling), so a seed gives the same sample on every platform; each key takes one `f64` draw
//! in key order, even where its probability is 0 or 1, so the stream never depends on the values.

use crate::data::music::KEYS;
use anyhow::{ensure, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a frame is drawn from its probabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleMode {
    /// Each key on with its probability, independently (`u < p`, `u ~ U[0, 1)`).
    Bernoulli,
    /// Each key on iff its probability is above 0.5 (`--most-likely`).
    MostLikely,
}

/// Draws one frame from per-key probabilities `probs` (each in [0, 1]), into 0/1 values.
pub fn sample_frame(probs: &[f64], mode: SampleMode, rng: &mut impl Rng) -> Result<Vec<u8>> {
    if let Some(k) = probs
        .iter()
        .position(|p| !(0.0..=1.0).contains(p) || p.is_nan())
    {
        anyhow::bail!("probability {} of key {k} is not in [0, 1]", probs[k]);
    }
    Ok(probs
        .iter()
        .map(|&p| match mode {
            SampleMode::Bernoulli => u8::from(rng.gen::<f64>() < p),
            SampleMode::MostLikely => u8::from(p > 0.5),
        })
        .collect())
}

/// The model seen as a step function: given the next input frame (88 values, 0/1), advance the recurrent state
/// and return the 88 probabilities of the frame that follows. The tch side implements it with the member's
/// weights (`sigmoid(out(h_t))`), keeping the hidden state inside the closure.
pub trait StepModel {
    /// Feeds `frame` (88 values, 0/1) and returns the 88 probabilities of the next frame.
    fn step(&mut self, frame: &[u8]) -> Result<Vec<f64>>;
}

impl<F: FnMut(&[u8]) -> Result<Vec<f64>>> StepModel for F {
    fn step(&mut self, frame: &[u8]) -> Result<Vec<f64>> {
        self(frame)
    }
}

/// Generates `frames` frames after `primer` (row-major, 88 per frame; empty for none, see the module doc).
/// Returns only the generated frames, row-major; prepend the primer to hear it in context.
pub fn generate(
    model: &mut impl StepModel,
    primer: &[u8],
    frames: usize,
    mode: SampleMode,
    seed: u64,
) -> Result<Vec<u8>> {
    ensure!(
        primer.len().is_multiple_of(KEYS),
        "a primer of {} values is not whole frames of {KEYS} keys",
        primer.len()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let silence = [0u8; KEYS];
    let inputs: Vec<&[u8]> = if primer.is_empty() {
        vec![&silence]
    } else {
        primer.chunks(KEYS).collect()
    };
    let mut probs = Vec::new();
    for x in inputs {
        probs = model.step(x)?;
    }
    let mut out = Vec::with_capacity(frames * KEYS);
    for t in 0..frames {
        ensure!(
            probs.len() == KEYS,
            "the model gave {} probabilities, not {KEYS}",
            probs.len()
        );
        let frame = sample_frame(&probs, mode, &mut rng)?;
        if t + 1 < frames {
            probs = model.step(&frame)?;
        }
        out.extend_from_slice(&frame);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_likely_thresholds_at_one_half() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let probs = [0.0, 0.49, 0.5, 0.500001, 0.9, 1.0];
        assert_eq!(
            sample_frame(&probs, SampleMode::MostLikely, &mut rng).unwrap(),
            [0, 0, 0, 1, 1, 1]
        );
    }

    #[test]
    fn bernoulli_frequencies_match_probabilities() {
        // 20 000 draws per key: the standard error of a frequency is at most 0.0035, so 0.015 is over 4 σ.
        let probs: Vec<f64> = (0..KEYS).map(|k| k as f64 / (KEYS - 1) as f64).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 20_000;
        let mut counts = vec![0u32; KEYS];
        for _ in 0..n {
            let f = sample_frame(&probs, SampleMode::Bernoulli, &mut rng).unwrap();
            for (c, v) in counts.iter_mut().zip(f) {
                *c += v as u32;
            }
        }
        for (k, (&c, &p)) in counts.iter().zip(&probs).enumerate() {
            let freq = c as f64 / n as f64;
            assert!(
                (freq - p).abs() < 0.015,
                "key {k}: frequency {freq}, probability {p}"
            );
        }
        // Probabilities 0 and 1 are exact.
        assert_eq!((counts[0], counts[KEYS - 1]), (0, n));
    }

    #[test]
    fn a_seed_gives_the_same_draws() {
        let probs = vec![0.3; KEYS];
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            sample_frame(&probs, SampleMode::Bernoulli, &mut rng).unwrap()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn bad_probabilities_are_refused() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for bad in [-0.1, 1.5, f64::NAN] {
            assert!(sample_frame(&[0.2, bad], SampleMode::Bernoulli, &mut rng).is_err());
        }
    }

    #[test]
    fn generate_feeds_primer_then_draws_back() {
        // A fake model that remembers its inputs and predicts "the previous frame shifted up one key", certainly.
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut model = |x: &[u8]| -> Result<Vec<f64>> {
            seen.push(x.to_vec());
            let mut p = vec![0.0; KEYS];
            for k in 0..KEYS - 1 {
                p[k + 1] = x[k] as f64;
            }
            Ok(p)
        };
        let mut primer = vec![0u8; 2 * KEYS];
        primer[KEYS + 10] = 1; // second primer frame: key 10
        let out = generate(&mut model, &primer, 3, SampleMode::Bernoulli, 5).unwrap();
        assert_eq!(out.len(), 3 * KEYS);
        for t in 0..3 {
            let on: Vec<usize> = (0..KEYS).filter(|&k| out[t * KEYS + k] == 1).collect();
            assert_eq!(on, vec![11 + t]);
        }
        // Inputs: both primer frames, then the first two generated ones (the last is never fed).
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[1], primer[KEYS..]);
        assert_eq!(seen[2], out[..KEYS]);

        // No primer: one silent frame goes in first.
        let mut calls = 0;
        let mut silent = |x: &[u8]| -> Result<Vec<f64>> {
            assert!(calls > 0 || x.iter().all(|&v| v == 0));
            calls += 1;
            Ok(vec![0.0; KEYS])
        };
        let out = generate(&mut silent, &[], 2, SampleMode::MostLikely, 0).unwrap();
        assert_eq!(out, vec![0u8; 2 * KEYS]);
        assert_eq!(calls, 2);
    }
}
