//! A training update's loss and gradients for the Bernoulli head (music), with the head's part formed by hand.
//!
//! Per member `k`, with logits `o = W h + b` of every predicted step, targets `y ∈ [0, 1]`, the mask `m` and the
//! update's frame count `F`:
//! ```text
//! NLL_k  = Σ m · (softplus(o) − o·y)                 two matrix–vector products over the logits
//! ∂L/∂o  = c_k · m · (σ(o) − y)                      c_k = 1/F, or 0 for a member whose NLL is not finite
//! ∂L/∂W  = Σ (∂L/∂o)^T h,   ∂L/∂b = Σ ∂L/∂o,   ∂L/∂h = (∂L/∂o) W
//! ```
//! where `L = Σ_k c_k NLL_k` is what [`super::Population`]'s update minimises. Autograd builds the same gradient
//! from about ten passes over the `[K, T, B, 88]` logits (the head was the largest elementwise cost of an update);
//! here it takes one fused pass for float32 on the CPU (`src/bernoulli.rs`) and four libtorch ops elsewhere.
//! Autograd then carries `∂L/∂h` through the recurrent layer.

use super::population::backward;
use crate::cells::State;
use crate::cells::{right_factor, GruChunk};
use crate::model::{bernoulli_nll_sums_ops, Implementation, Model};
use anyhow::{ensure, Result};
use tch::Tensor;

/// The per-member NLL sums `[K]`, the gradients of `params` (the model's parameters in order, the output layer's
/// weight and bias last) of `Σ_k NLL_k / frames` over the members whose NLL is finite, and the final state. `model`
/// must have a Bernoulli head; its parameters are `params`.
pub fn bernoulli_loss_and_grads(
    model: &Model,
    x: &Tensor,
    y: &Tensor,
    mask: &Tensor,
    frames: usize,
    params: &[&Tensor],
    state: Option<&State>,
) -> Result<(Tensor, Vec<Tensor>, State)> {
    let n = params.len();
    ensure!(n >= 2, "a model has an output layer");
    let (w, b) = (params[n - 2], params[n - 1]);
    ensure!(w.dim() == 3, "the output weight is [K, O, H]");
    // The paper's GRU runs with its backward pass written out (no autograd graph); other units through autograd,
    // their recurrent matrices' gradients deferred where they declare their blocks.
    let chunk = match model.implementation() == Implementation::Custom
        && GruChunk::applies(model.cell())
        && !x.requires_grad()
    {
        true => Some(GruChunk::forward(model.cell(), x, state)?),
        false => None,
    };
    let (h, last, deferred) = match &chunk {
        Some(c) => (c.hs.shallow_clone(), c.last(), None),
        None => model.hidden_deferred(x, state)?,
    };
    let (nll, d_w, d_b, d_h) = tch::no_grad(|| {
        let (k, o, hidden) = (w.size()[0], w.size()[1], w.size()[2]);
        let hf = h.detach().reshape([k, -1, hidden]);
        let mut out = b.unsqueeze(1).baddbmm(&hf, &right_factor(w), 1, 1);
        let kind = out.kind();
        // ∂L/∂o over the logits, in one fused pass where it runs (see crate::bernoulli), else in four.
        let nll = if crate::bernoulli::applies(&out) {
            crate::bernoulli::nll_sums(&mut out, y, mask, Some(1.0 / frames as f64))?
        } else {
            let nll = bernoulli_nll_sums_ops(&out, y, mask);
            let m = mask.to_kind(kind).reshape([-1, 1]);
            let target = y.to_kind(kind).reshape([-1, o]);
            let coef = nll.isfinite().to_kind(kind) / frames as f64;
            let _ = out.sigmoid_();
            let _ = out.g_sub_(&target);
            let _ = out.g_mul_(&(m.unsqueeze(0) * coef.view([k, 1, 1])));
            nll
        };
        let d_w = out.transpose(1, 2).bmm(&hf);
        let d_b = out.sum_dim_intlist(1, false, kind);
        let d_h = out.bmm(w).reshape(h.size().as_slice());
        Ok::<_, anyhow::Error>((nll, d_w, d_b, d_h))
    })?;
    let rnn = &params[..n - 2];
    if let Some(c) = chunk {
        let mut grads = c.backward(&d_h, rnn);
        grads.push(d_w);
        grads.push(d_b);
        return Ok((nll, grads, last));
    }
    // Autograd takes ∂L/∂h through the recurrent layer.
    let mut grads = backward(&h, &d_h, rnn, deferred.as_ref())?;
    grads.push(d_w);
    grads.push(d_b);
    Ok((nll, grads, last))
}
