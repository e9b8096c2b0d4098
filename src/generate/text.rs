//! `rnnlab sample` on a token run (text, Shakespeare, integer NPZ): text drawn from the model one token at a time.
//!
//! The chosen member's best weights are loaded on the CPU ([`RunDir::load_best_model`]) with the run's vocabulary
//! (`RUN_DIR/vocab.json`). The priming text is encoded with it (a symbol outside it becomes the unknown id) and fed
//! through the network from a zero state; then every step draws the next token from
//! ```text
//! p(v) ∝ exp(logit_v / temperature)        (temperature 0: the most likely token)
//! ```
//! by inverse CDF on one uniform draw of a generator seeded with `seed`, and feeds it back. The same run, seed,
//! temperature and priming text give the same text. With no priming text, generation starts from a line break
//! (or from the first id of the vocabulary when the training text had none).

use crate::data::text::Vocab;
use crate::rng::Rng;
use crate::run::RunDir;
use anyhow::{ensure, Result};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// What a text sample is drawn with.
#[derive(Clone, Debug, PartialEq)]
pub struct TextSampleOptions {
    /// Tokens to generate after the priming text.
    pub length: usize,
    /// Softmax temperature; 0 takes the most likely token at every step.
    pub temperature: f64,
    /// Seed of the sampling generator: the same seed gives the same text.
    pub seed: u64,
    /// Text fed to the model before sampling (written at the start of the output).
    pub prime: String,
    /// Population member (default: the run's best by validation NLL).
    pub member: Option<usize>,
}

/// A generated text.
pub struct TextSample {
    /// The population member that generated it.
    pub member: usize,
    /// The priming text as the vocabulary encodes it, then the generated tokens, decoded.
    pub text: String,
    /// Generated tokens (not counting the priming text).
    pub generated: usize,
    /// Symbols of the priming text outside the vocabulary.
    pub unknown_in_prime: usize,
}

/// Draws text from a token run (see the module doc).
pub fn sample_text(run_dir: &Path, opts: &TextSampleOptions) -> Result<TextSample> {
    let (run, cfg) = RunDir::open(run_dir)?;
    ensure!(
        cfg.token_name().is_some(),
        "{} is a {} run without a token head; text is sampled from text, shakespeare or integer npz runs",
        run_dir.display(),
        cfg.dataset
    );
    ensure!(
        opts.temperature.is_finite() && opts.temperature >= 0.0,
        "--temperature must be 0 (most likely token) or positive"
    );
    ensure!(
        opts.length >= 1 && opts.length <= 1_000_000,
        "--length must be in 1..=1000000 tokens"
    );
    let vocab = Vocab::read(run_dir)?;
    let (model, member) = super::load_member(&run, &cfg, opts.member)?;
    let v = vocab.size as i64;
    ensure!(
        model.head().outputs() == v,
        "{}: the model has {} outputs, its vocabulary {v} tokens",
        run_dir.display(),
        model.head().outputs()
    );
    let one = model.select(&Tensor::from_slice(&[member as i64]))?;
    let kind = cfg.dtype.kind();
    let mut prime = vocab.encode(&opts.prime)?;
    let unknown_in_prime = if vocab.unit == crate::data::text::TokenUnit::Integers {
        0
    } else {
        prime.iter().filter(|&&i| i == 0).count()
    };
    let shown = prime.clone();
    if prime.is_empty() {
        let newline = vocab.id(b'\n' as u32);
        prime.push(if newline > 0 {
            newline
        } else {
            1.min(vocab.size as u32 - 1)
        });
    }
    let mut rng = Rng::new(opts.seed)?;
    let generated = tch::no_grad(|| -> Result<Vec<u32>> {
        let ids: Vec<i64> = prime.iter().map(|&i| i as i64).collect();
        // [T, 1, V] one-hot of the priming tokens.
        let x = Tensor::from_slice(&ids)
            .one_hot(v)
            .to_kind(kind)
            .reshape([ids.len() as i64, 1, v]);
        let (out, mut s) = one.outputs_from(&x, None)?;
        let mut logits = out.get(0).get(ids.len() as i64 - 1).get(0).copy(); // [V]
                                                                             // Id 0 of a text vocabulary stands for symbols unseen in training, not a symbol: never drawn.
        let text = vocab.unit != crate::data::text::TokenUnit::Integers;
        let mut tokens = Vec::with_capacity(opts.length);
        for _ in 0..opts.length {
            if text {
                let _ = logits.get(0).fill_(f64::NEG_INFINITY);
            }
            let next = draw(&logits, opts.temperature, &mut rng);
            tokens.push(next as u32);
            let x = Tensor::from_slice(&[next])
                .one_hot(v)
                .to_kind(kind)
                .reshape([1, 1, v]);
            let (out, s2) = one.outputs_from(&x, Some(&s))?;
            s = s2;
            logits = out.get(0).get(0).get(0).copy();
        }
        Ok(tokens)
    })?;
    let mut all = shown;
    all.extend_from_slice(&generated);
    Ok(TextSample {
        member,
        text: vocab.decode(&all),
        generated: generated.len(),
        unknown_in_prime,
    })
}

/// One token from `logits` (`[V]`) at `temperature` (0: the argmax), by inverse CDF on one uniform draw.
fn draw(logits: &Tensor, temperature: f64, rng: &mut Rng) -> i64 {
    let logits = logits.to_kind(Kind::Double);
    if temperature == 0.0 {
        return logits.argmax(0, false).int64_value(&[]);
    }
    let cdf = (logits / temperature)
        .softmax(0, Kind::Double)
        .cumsum(0, Kind::Double);
    let u = rng
        .uniform(&[1], 0.0, 1.0, (Kind::Double, Device::Cpu))
        .double_value(&[0]);
    // Rounding can leave the last cumulative weight just below 1: clamp to the last token.
    let below = cdf.le(u).sum(Kind::Int64).int64_value(&[]);
    below.min(cdf.size()[0] - 1)
}
