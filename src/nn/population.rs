//! [`PopulationLinear`]: the output layer of a population of `K` models.

use crate::cells::project;
use crate::rng::Rng;
use anyhow::{ensure, Result};
use std::borrow::Borrow;
use tch::{nn, Tensor};

/// A linear layer for a population of `K` models: `y = x Wₖᵀ + bₖ` for each member `k`, with `weight: [K, out,
/// in]` and `bias: [K, out]`. Made by [`population_linear`].
#[derive(Debug)]
pub struct PopulationLinear {
    /// `[K, out, in]`.
    pub ws: Tensor,
    /// `[K, out]`.
    pub bs: Tensor,
}

/// Makes a [`PopulationLinear`] of `k` members on `vs` (variables `weight` and `bias`), initialised as PyTorch's
/// `nn.Linear` (U(−1/√in, 1/√in)) from a generator seeded by `seed`.
pub fn population_linear<'a, T: Borrow<nn::Path<'a>>>(
    vs: T,
    k: i64,
    in_dim: i64,
    out_dim: i64,
    seed: u64,
) -> Result<PopulationLinear> {
    let vs = vs.borrow();
    ensure!(
        k >= 1 && in_dim >= 1 && out_dim >= 1,
        "population_linear: K, in_dim and out_dim must be at least 1, got {k}, {in_dim}, {out_dim}"
    );
    let mut rng = Rng::new(seed)?;
    let a = 1.0 / (in_dim as f64).sqrt();
    let opts = (vs.kind(), vs.device());
    let ws = vs.add(
        "weight",
        rng.uniform(&[k, out_dim, in_dim], -a, a, opts),
        true,
    );
    let bs = vs.add("bias", rng.uniform(&[k, out_dim], -a, a, opts), true);
    Ok(PopulationLinear { ws, bs })
}

/// `x: [K, …, in]` (one input per member: an [`Rnn`] population's output) → `[K, …, out]`.
impl nn::Module for PopulationLinear {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let k = self.ws.size()[0];
        let size = xs.size();
        assert!(
            size.len() >= 2 && size[0] == k,
            "PopulationLinear input has shape {size:?}, expected [{k}, …, {}]",
            self.ws.size()[2]
        );
        let lead = &size[..size.len() - 1];
        let flat = xs.reshape([k, 1, -1, size[size.len() - 1]]);
        let out = project(&flat, &self.ws, Some(&self.bs));
        let mut shape = lead.to_vec();
        shape.push(-1);
        out.reshape(shape)
    }
}
