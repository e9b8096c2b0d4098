//! The paper's GRU ([`super::PaperGru`]) over a training chunk with its backward pass written out, outside autograd:
//! the step of a population's training update for the Table 2 GRU, which autograd runs as about 25 small kernels
//! per step plus a graph node each, the per-step gradients of the split projected input joined (`cat`) and stacked.
//!
//! Forward, per step (the ops of `PaperGru::step_with`, the same numbers):
//! ```text
//! rz  = σ(xp[:2H] + h U_rz^T),   r, z = rz[:H], rz[H:]
//! c   = tanh(xp[2H:] + (r ⊙ h) U^T)
//! h'  = h + z ⊙ (c − h)
//! ```
//! Backward, per step from `g = ∂L/∂h' `(the head's gradient plus the next step's):
//! ```text
//! ∂c = g ⊙ z,   ∂c_pre = ∂c ⊙ (1 − c²),   ∂(r⊙h) = ∂c_pre U
//! ∂r = ∂(r⊙h) ⊙ h,   ∂z = g ⊙ (c − h),   ∂rz_pre = [∂r, ∂z] ⊙ rz ⊙ (1 − rz)
//! ∂h = g − ∂c + ∂(r⊙h) ⊙ r + ∂rz_pre U_rz
//! ```
//! Every step writes `[∂rz_pre, ∂c_pre]` into its row of `∂xp`; the weights' gradients are then one matmul each over
//! all steps (`U_rz`: `Σ ∂rz_pre^T h_{t−1}`, `U`: `Σ ∂c_pre^T (r⊙h)`, `W` and `b` from `∂xp`). Checked against
//! autograd in `tests/population_step.rs` (f64, 1e-12).

use super::step_weights::input_gradients;
use super::{Cell, CellKind, State};
use anyhow::{ensure, Result};
use tch::Tensor;

/// A GRU population's forward pass over a chunk, with what its backward pass needs.
pub struct GruChunk {
    /// `h_t` of every step, `[K, T, B, H]`.
    pub hs: Tensor,
    h0: Tensor,
    x: Tensor,
    /// `rz` of every step, `[T, K, B, 2H]`.
    rz: Tensor,
    /// The candidate `c` of every step, `[T, K, B, H]`.
    c: Tensor,
    /// `r ⊙ h_{t−1}` of every step, `[K, T, B, H]`.
    rh: Tensor,
    /// `U_rz` `[K, 2H, H]` and `U` `[K, H, H]`, row-major, for the backward pass.
    u_rz: Tensor,
    u: Tensor,
}

impl GruChunk {
    /// Whether `cell` runs here: the paper's GRU as a population (`[K, …]` parameters).
    pub fn applies(cell: &dyn Cell) -> bool {
        cell.kind() == CellKind::PaperGru && cell.population().is_some()
    }

    /// Runs `cell` (see [`GruChunk::applies`]) over `x: [T, B, D]` (or `[K, T, B, D]`) from `state` (zeros when
    /// `None`), outside autograd, keeping what [`GruChunk::backward`] needs.
    pub fn forward(cell: &dyn Cell, x: &Tensor, state: Option<&State>) -> Result<GruChunk> {
        ensure!(GruChunk::applies(cell), "not a GRU population");
        let named = cell.named_parameters();
        let w_hh = named[1].1;
        let (k, g3, hd) = (w_hh.size()[0], w_hh.size()[1], w_hh.size()[2]);
        ensure!(g3 == 3 * hd, "weight_hh is [K, 3H, H]");
        tch::no_grad(|| {
            let (_, t, b) = super::check_input(
                cell.kind(),
                cell.input_size(),
                cell.population(),
                named[0].1,
                x,
            )?;
            let opts = (w_hh.kind(), w_hh.device());
            let h0 = super::initial_state(cell.kind(), &[k, b, hd], state, x)?.h;
            let xp = cell.input_projection(x);
            let u_rz = w_hh.narrow(1, 0, 2 * hd).detach();
            let u = w_hh.narrow(1, 2 * hd, hd).detach();
            let (u_rz_t, u_t) = (
                u_rz.transpose(1, 2).contiguous(),
                u.transpose(1, 2).contiguous(),
            );
            let hs = Tensor::empty([k, t, b, hd], opts);
            let rz = Tensor::empty([t, k, b, 2 * hd], opts);
            let c = Tensor::empty([t, k, b, hd], opts);
            let rh = Tensor::empty([k, t, b, hd], opts);
            for s in 0..t {
                let h = if s == 0 {
                    h0.shallow_clone()
                } else {
                    hs.select(1, s - 1)
                };
                let xp_s = xp.select(1, s);
                let mut rz_s = rz.get(s);
                let _ = xp_s.narrow(-1, 0, 2 * hd).baddbmm_out(&rz_s, &h, &u_rz_t);
                let _ = rz_s.sigmoid_();
                let (r, z) = (rz_s.narrow(-1, 0, hd), rz_s.narrow(-1, hd, hd));
                let rh_s = rh.select(1, s);
                let _ = r.mul_out(&rh_s, &h);
                let mut c_s = c.get(s);
                let _ = xp_s.narrow(-1, 2 * hd, hd).baddbmm_out(&c_s, &rh_s, &u_t);
                let _ = c_s.tanh_();
                let _ = h.lerp_tensor_out(&hs.select(1, s), &c_s, &z);
            }
            Ok(GruChunk {
                hs,
                h0,
                x: x.shallow_clone(),
                rz,
                c,
                rh,
                u_rz,
                u,
            })
        })
    }

    /// The final state (`h` of the last step).
    pub fn last(&self) -> State {
        let t = self.hs.size()[1];
        State {
            h: self.hs.select(1, t - 1),
            c: None,
        }
    }

    /// The gradients of `weight_ih`, `weight_hh`, `bias` (the order of [`Cell::named_parameters`]) from `d_hs`
    /// (`∂L/∂h_t` of every step, `[K, T, B, H]`); the chunk's initial state gets none (truncated BPTT).
    pub fn backward(&self, d_hs: &Tensor, params: &[&Tensor]) -> Vec<Tensor> {
        tch::no_grad(|| {
            let size = self.hs.size();
            let (k, t, b, hd) = (size[0], size[1], size[2], size[3]);
            let opts = (self.hs.kind(), self.hs.device());
            let d_xp = Tensor::empty([k, t, b, 3 * hd], opts);
            let mut dh: Option<Tensor> = None;
            for s in (0..t).rev() {
                let g = match &dh {
                    Some(dh) => d_hs.select(1, s) + dh,
                    None => d_hs.select(1, s),
                };
                let h = if s == 0 {
                    self.h0.shallow_clone()
                } else {
                    self.hs.select(1, s - 1)
                };
                let (rz, c) = (self.rz.get(s), self.c.get(s));
                let (r, z) = (rz.narrow(-1, 0, hd), rz.narrow(-1, hd, hd));
                let d_xp_s = d_xp.select(1, s);
                let dc = &g * &z;
                let dc_pre = d_xp_s.narrow(-1, 2 * hd, hd);
                let _ = Tensor::tanh_backward_grad_input(&dc_pre, &dc, &c);
                let d_rz = Tensor::empty([k, b, 2 * hd], opts);
                let _ = g.mul_out(&d_rz.narrow(-1, hd, hd), &(&c - &h));
                let d_rh = dc_pre.bmm(&self.u);
                let _ = h.mul_out(&d_rz.narrow(-1, 0, hd), &d_rh);
                let d_rz_pre = d_xp_s.narrow(-1, 0, 2 * hd);
                let _ = Tensor::sigmoid_backward_grad_input(&d_rz_pre, &d_rz, &rz);
                if s > 0 {
                    let mut d_h = &g - &dc;
                    let _ = d_h.addcmul_(&d_rh, &r);
                    let _ = d_h.baddbmm_(&d_rz_pre, &self.u_rz);
                    dh = Some(d_h);
                }
            }
            let mut grads: Vec<Tensor> = params.iter().map(|_| Tensor::new()).collect();
            input_gradients(&self.x, &d_xp, params, &mut grads, 0, &[2]);
            let g_hh = params[1].zeros_like();
            let d_rz_pre = d_xp.narrow(-1, 0, 2 * hd);
            let mut rows_rz = g_hh.narrow(1, 0, 2 * hd);
            let _ = rows_rz.baddbmm_(&d_rz_pre.select(1, 0).transpose(1, 2), &self.h0);
            if t > 1 {
                let d = d_rz_pre.narrow(1, 1, t - 1).reshape([k, -1, 2 * hd]);
                let h = self.hs.narrow(1, 0, t - 1).reshape([k, -1, hd]);
                let _ = rows_rz.baddbmm_(&d.transpose(1, 2), &h);
            }
            let d_c_pre = d_xp.narrow(-1, 2 * hd, hd).reshape([k, -1, hd]);
            let _ = g_hh
                .narrow(1, 2 * hd, hd)
                .baddbmm_(&d_c_pre.transpose(1, 2), &self.rh.reshape([k, -1, hd]));
            grads[1] = g_hh;
            grads
        })
    }
}
