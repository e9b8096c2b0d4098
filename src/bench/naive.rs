//! Tier 1 of the benchmark: the custom cells written the way a first implementation is, one matmul per gate.
//!
//! [`NaiveLayer`] computes the same maths as [`crate::cells::CustomLayer`] on the same parameter tensors, but does
//! nothing clever: it does not precompute the input projection of the whole sequence, and it does not fuse the gates
//! into one matmul. Every step, every gate `g` gets its own two matmuls from row slices (views) of the stacked
//! weights:
//! ```text
//! a_g = x_t W_g^T + b_g  +  h U_g^T (+ b_hg)          W_g = weight_ih[gH..(g+1)H],  U_g = weight_hh[gH..(g+1)H]
//! ```
//! so a step costs `2·gates` matmuls instead of the fused layer's one (two for the paper GRU, whose candidate block
//! must wait for the reset gate). The gate equations are the ones in `cells/tanh.rs`, `cells/gru.rs` and
//! `cells/lstm.rs`; shapes are `x: [T, B, D]`, states `[B, H]`. Single models only, not populations.

use crate::cells::{Cell, CellKind, SequenceLayer, State};
use anyhow::{bail, ensure, Context, Result};
use tch::Tensor;

/// One gate's parameters: views into the cell's stacked weights, so gradients land on the cell's own leaves.
struct Gate {
    w: Tensor,
    u: Tensor,
    /// The input-side bias (`b_ih` slice, or the paper forms' single `b`).
    b_i: Tensor,
    /// The recurrent-side bias (`b_hh` slice); torch forms only.
    b_h: Option<Tensor>,
}

impl Gate {
    /// `x W^T + b_i`.
    fn input(&self, x: &Tensor) -> Tensor {
        self.b_i.addmm(x, &self.w.tr())
    }

    /// `h U^T (+ b_h)`.
    fn recurrent(&self, h: &Tensor) -> Tensor {
        match &self.b_h {
            Some(b) => b.addmm(h, &self.u.tr()),
            None => h.mm(&self.u.tr()),
        }
    }

    /// `x W^T + b_i + h U^T (+ b_h)`.
    fn pre_activation(&self, x: &Tensor, h: &Tensor) -> Tensor {
        self.input(x) + self.recurrent(h)
    }
}

/// A custom cell run step by step with one matmul per gate and per operand (tier 1).
pub struct NaiveLayer {
    kind: CellKind,
    input: i64,
    hidden: i64,
    /// Gate blocks in the cell's row order (tanh: one; GRU: r, z, n; LSTM: i, f, g, o).
    gates: Vec<Gate>,
    /// The paper LSTM's peephole diagonals `V_i, V_f, V_o`, each `[1, H]` for broadcasting.
    peephole: Option<[Tensor; 3]>,
}

/// Whether the naive tier has `kind`: the paper's cells ([`CellKind::PAPER`]), whose gate equations this file
/// writes out a second time. The units beyond the paper are timed in the other custom tiers only.
pub fn supports(kind: CellKind) -> bool {
    CellKind::PAPER.contains(&kind)
}

impl NaiveLayer {
    /// Shares (does not copy) the parameters of `cell`, which must be a single model.
    pub fn new(cell: &dyn Cell) -> Result<Self> {
        let kind = cell.kind();
        ensure!(
            supports(kind),
            "the naive tier has only the paper's cells, not {kind}"
        );
        ensure!(
            cell.population().is_none(),
            "the naive layer runs one model, not a population"
        );
        let named = cell.named_parameters();
        let get = |name: &str| -> Result<Tensor> {
            named
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.shallow_clone())
                .with_context(|| format!("{kind} has no parameter {name}"))
        };
        let h = cell.hidden_size();
        let rows = |t: &Tensor, g: i64| t.narrow(0, g * h, h);
        let (w_ih, w_hh) = (get("weight_ih")?, get("weight_hh")?);
        let (b_i, b_h) = match kind {
            CellKind::Tanh | CellKind::TorchGru | CellKind::TorchLstm => {
                (get("bias_ih")?, Some(get("bias_hh")?))
            }
            _ => (get("bias")?, None),
        };
        let gates = (0..kind.gates())
            .map(|g| Gate {
                w: rows(&w_ih, g),
                u: rows(&w_hh, g),
                b_i: rows(&b_i, g),
                b_h: b_h.as_ref().map(|b| rows(b, g)),
            })
            .collect();
        let peephole = match kind {
            CellKind::PaperLstm => {
                let v = get("peephole")?;
                Some([0, 1, 2].map(|g| rows(&v, g).unsqueeze(0)))
            }
            _ => None,
        };
        Ok(NaiveLayer {
            kind,
            input: cell.input_size(),
            hidden: h,
            gates,
            peephole,
        })
    }

    fn step(&self, x: &Tensor, state: &State) -> State {
        let h = &state.h;
        let g = &self.gates;
        match self.kind {
            CellKind::Tanh => State {
                h: g[0].pre_activation(x, h).tanh(),
                c: None,
            },
            CellKind::TorchGru => {
                let r = g[0].pre_activation(x, h).sigmoid();
                let z = g[1].pre_activation(x, h).sigmoid();
                let n = (g[2].input(x) + r * g[2].recurrent(h)).tanh();
                // (1 − z) ⊙ n + z ⊙ h
                let h = &n + z * (h - &n);
                State { h, c: None }
            }
            CellKind::PaperGru => {
                let r = g[0].pre_activation(x, h).sigmoid();
                let z = g[1].pre_activation(x, h).sigmoid();
                let candidate = g[2].pre_activation(x, &(r * h)).tanh();
                // (1 − z) ⊙ h + z ⊙ h̃
                let h = h + z * (candidate - h);
                State { h, c: None }
            }
            CellKind::TorchLstm => {
                let c = state.c.as_ref().expect("checked in forward");
                let i = g[0].pre_activation(x, h).sigmoid();
                let f = g[1].pre_activation(x, h).sigmoid();
                let cand = g[2].pre_activation(x, h).tanh();
                let o = g[3].pre_activation(x, h).sigmoid();
                let c = f * c + i * cand;
                let h = o * c.tanh();
                State { h, c: Some(c) }
            }
            CellKind::PaperLstm => {
                let c = state.c.as_ref().expect("checked in forward");
                let [v_i, v_f, v_o] = self.peephole.as_ref().expect("set for paper_lstm");
                let i = (g[0].pre_activation(x, h) + v_i * c).sigmoid();
                let f = (g[1].pre_activation(x, h) + v_f * c).sigmoid();
                let cand = g[2].pre_activation(x, h).tanh();
                let c = f * c + i * cand;
                let o = (g[3].pre_activation(x, h) + v_o * &c).sigmoid();
                let h = o * c.tanh();
                State { h, c: Some(c) }
            }
            other => unreachable!("NaiveLayer::new admits only the paper's cells, not {other}"),
        }
    }
}

impl SequenceLayer for NaiveLayer {
    fn implementation(&self) -> &'static str {
        "naive"
    }

    fn kind(&self) -> CellKind {
        self.kind
    }

    fn forward(&self, x: &Tensor, state: Option<&State>) -> Result<(Tensor, State)> {
        let size = x.size();
        if size.len() != 3 || size[2] != self.input {
            bail!(
                "{} input has shape {size:?}, expected [time, batch, {}]",
                self.kind,
                self.input
            );
        }
        let (t, b) = (size[0], size[1]);
        let want = [b, self.hidden];
        let zeros = || Tensor::zeros(want, (x.kind(), x.device()));
        let mut state = match state {
            Some(s) => {
                ensure!(
                    s.h.size() == want && s.c.as_ref().is_none_or(|c| c.size() == want),
                    "{} initial state has shape {:?}, expected {want:?}",
                    self.kind,
                    s.h.size()
                );
                ensure!(
                    s.c.is_some() == self.kind.has_cell_state(),
                    "{} initial state: c must be given exactly for LSTMs",
                    self.kind
                );
                s.shallow_clone()
            }
            None => State {
                h: zeros(),
                c: self.kind.has_cell_state().then(zeros),
            },
        };
        let mut outputs = Vec::with_capacity(t as usize);
        for x_t in x.unbind(0) {
            state = self.step(&x_t, &state);
            outputs.push(state.h.shallow_clone());
        }
        Ok((Tensor::stack(&outputs, 0), state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::{new_cell, CellConfig, CustomLayer};
    use crate::rng::Rng;
    use crate::validate::{compare_outcomes, forward_backward, Probe, Shape};
    use tch::{Device, Kind};

    /// The naive tier must compute what the fused tier computes: outputs, final states and every gradient, in f64.
    #[test]
    fn naive_matches_fused_in_f64() {
        let mut rng = Rng::new(6).unwrap();
        let shape = Shape {
            seq: 7,
            batch: 3,
            input: 5,
            hidden: 4,
        };
        for kind in CellKind::PAPER {
            let cfg = CellConfig {
                kind: Kind::Double,
                ..CellConfig::new(shape.input, shape.hidden)
            };
            let fused = CustomLayer::new(new_cell(kind, &cfg, &mut rng).unwrap());
            let naive = NaiveLayer::new(fused.cell()).unwrap();
            let params = fused.cell().parameters();
            let probe = Probe::random(kind, shape, Kind::Double, Device::Cpu, &mut rng);
            let a = forward_backward(&fused, &params, &probe).unwrap();
            let b = forward_backward(&naive, &params, &probe).unwrap();
            let (out, grad) = compare_outcomes(&a, &b);
            assert!(
                out <= 1e-10 && grad <= 1e-10,
                "{kind}: naive vs fused max-abs output {out:e}, gradient {grad:e} (tolerance 1e-10)"
            );
        }
    }
}
