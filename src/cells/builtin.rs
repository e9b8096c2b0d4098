//! libtorch's fused recurrent kernels as baselines, on the same weight tensors as the torch-form custom cells.
//!
//! [`Implementation::BuiltinSeq`] calls the whole-sequence ops `at::rnn_tanh`, `at::gru`, `at::lstm` (one layer,
//! unidirectional, time-major); on CUDA with cuDNN enabled these dispatch to cuDNN. [`Implementation::BuiltinCell`] loops the
//! per-step ops `at::rnn_tanh_cell`, `at::gru_cell`, `at::lstm_cell` over time. Only the torch forms have built-in
//! twins: the paper GRU (reset before the matmul) and the peephole LSTM cannot be expressed by these kernels.

use super::{
    check_input, initial_state, run_steps, Cell, CellKind, Implementation, SequenceLayer, State,
};
use anyhow::{bail, ensure, Result};
use tch::Tensor;

/// A built-in libtorch layer sharing (not copying) a torch-form cell's parameters.
pub struct BuiltinLayer {
    kind: CellKind,
    /// `BuiltinSeq` or `BuiltinCell` (never `Custom`).
    mode: Implementation,
    /// `weight_ih, weight_hh, bias_ih, bias_hh`, shallow clones of the cell's tensors (same autograd leaves).
    params: [Tensor; 4],
}

impl BuiltinLayer {
    /// `mode` is `BuiltinSeq` or `BuiltinCell`.
    pub fn new(cell: &dyn Cell, mode: Implementation) -> Result<Self> {
        let kind = cell.kind();
        ensure_builtin(mode)?;
        ensure!(
            kind.has_builtin(),
            "{kind} has no libtorch built-in: only tanh, torch_gru and torch_lstm do"
        );
        ensure!(
            cell.population().is_none(),
            "libtorch's built-in cells take one model, not a population"
        );
        let named = cell.named_parameters();
        let get = |name: &str| -> Result<Tensor> {
            match named.iter().find(|(n, _)| *n == name) {
                Some((_, t)) => Ok(t.shallow_clone()),
                None => bail!("{kind} has no parameter {name}"),
            }
        };
        Ok(BuiltinLayer {
            kind,
            mode,
            params: [
                get("weight_ih")?,
                get("weight_hh")?,
                get("bias_ih")?,
                get("bias_hh")?,
            ],
        })
    }

    /// A built-in layer on explicit tensors `weight_ih, weight_hh, bias_ih, bias_hh` (PyTorch layout, one model).
    /// The tensors may be views, e.g. one member of a population's stacked parameters.
    pub fn from_tensors(kind: CellKind, mode: Implementation, params: [Tensor; 4]) -> Result<Self> {
        ensure_builtin(mode)?;
        ensure!(
            kind.has_builtin(),
            "{kind} has no libtorch built-in: only tanh, torch_gru and torch_lstm do"
        );
        ensure!(
            params[0].dim() == 2 && params[1].dim() == 2,
            "built-in {kind} takes 2-D weights, got {:?} and {:?}",
            params[0].size(),
            params[1].size()
        );
        Ok(BuiltinLayer { kind, mode, params })
    }

    pub fn mode(&self) -> Implementation {
        self.mode
    }

    fn step(&self, x: &Tensor, state: &State) -> State {
        let [w_ih, w_hh, b_ih, b_hh] = &self.params;
        match self.kind {
            CellKind::Tanh => State {
                h: x.rnn_tanh_cell(&state.h, w_ih, w_hh, Some(b_ih), Some(b_hh)),
                c: None,
            },
            CellKind::TorchGru => State {
                h: x.gru_cell(&state.h, w_ih, w_hh, Some(b_ih), Some(b_hh)),
                c: None,
            },
            CellKind::TorchLstm => {
                let c = state.c.as_ref().expect("checked in forward");
                let (h, c) = x.lstm_cell(&[&state.h, c], w_ih, w_hh, Some(b_ih), Some(b_hh));
                State { h, c: Some(c) }
            }
            _ => unreachable!("BuiltinLayer::new admits only kinds with built-ins"),
        }
    }
}

impl SequenceLayer for BuiltinLayer {
    fn implementation(&self) -> &'static str {
        self.mode.name()
    }

    fn kind(&self) -> CellKind {
        self.kind
    }

    fn forward(&self, x: &Tensor, state: Option<&State>) -> Result<(Tensor, State)> {
        let w_ih = &self.params[0];
        let (d, hidden) = (w_ih.size()[1], self.params[1].size()[1]);
        let (_, _, b) = check_input(self.kind, d, None, w_ih, x)?;
        let state = initial_state(self.kind, &[b, hidden], state, x)?;
        match self.mode {
            Implementation::Custom => {
                bail!("BuiltinLayer runs libtorch's kernels, not the custom cells")
            }
            Implementation::BuiltinSeq => {
                // The whole-sequence ops take [layers, B, H] states. train=true: cuDNN keeps what backward needs
                // only in training mode; with dropout 0 it changes nothing else.
                let h0 = state.h.unsqueeze(0);
                let p = &self.params;
                Ok(match self.kind {
                    CellKind::Tanh => {
                        let (out, h) = x.rnn_tanh(&h0, p, true, 1, 0.0, true, false, false);
                        (
                            out,
                            State {
                                h: h.squeeze_dim(0),
                                c: None,
                            },
                        )
                    }
                    CellKind::TorchGru => {
                        let (out, h) = x.gru(&h0, p, true, 1, 0.0, true, false, false);
                        (
                            out,
                            State {
                                h: h.squeeze_dim(0),
                                c: None,
                            },
                        )
                    }
                    CellKind::TorchLstm => {
                        let c0 = state.c.as_ref().expect("checked above").unsqueeze(0);
                        let (out, h, c) = x.lstm(
                            &[&h0, &c0],
                            &[&p[0], &p[1], &p[2], &p[3]],
                            true,
                            1,
                            0.0,
                            true,
                            false,
                            false,
                        );
                        let state = State {
                            h: h.squeeze_dim(0),
                            c: Some(c.squeeze_dim(0)),
                        };
                        (out, state)
                    }
                    _ => unreachable!("BuiltinLayer::new admits only kinds with built-ins"),
                })
            }
            Implementation::BuiltinCell => Ok(run_steps(x, 0, state, |x_t, s| self.step(x_t, s))),
        }
    }
}

/// A [`BuiltinLayer`] runs one of libtorch's kernels: `BuiltinSeq` or `BuiltinCell`.
fn ensure_builtin(mode: Implementation) -> Result<()> {
    ensure!(
        mode != Implementation::Custom,
        "a built-in layer runs builtin_seq or builtin_cell, not custom"
    );
    Ok(())
}
