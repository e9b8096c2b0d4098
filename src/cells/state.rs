//! [`State`]: a recurrent layer's state, and the population operations on it.

use tch::Tensor;

/// The recurrent state: `h`, and `c` for LSTMs.
#[derive(Debug)]
pub struct State {
    /// Hidden state, `[B, H]` (`[K, B, H]` for a population).
    pub h: Tensor,
    /// Memory cell, same shape as `h`, for units with a cell state (the LSTM forms); `None` otherwise.
    pub c: Option<Tensor>,
}

impl State {
    /// A second handle on the same tensors (no copy; gradients still flow).
    pub fn shallow_clone(&self) -> State {
        State {
            h: self.h.shallow_clone(),
            c: self.c.as_ref().map(Tensor::shallow_clone),
        }
    }

    /// The same values, cut from the autograd graph: where truncated BPTT stops the gradient.
    pub fn detach(&self) -> State {
        State {
            h: self.h.detach(),
            c: self.c.as_ref().map(Tensor::detach),
        }
    }

    /// Members `index` of a population's state (`[K, B, H]` → `[K', B, H]`).
    pub fn select(&self, index: &Tensor) -> State {
        State {
            h: self.h.index_select(0, index),
            c: self.c.as_ref().map(|c| c.index_select(0, index)),
        }
    }

    /// A population's state of `k` members (`[k, B, H]`) holding this state (`[K', B, H]`) at the members `index`
    /// and zeros elsewhere: the inverse of [`State::select`] for the members it kept.
    pub fn scatter(&self, index: &Tensor, k: i64) -> State {
        let put = |t: &Tensor| {
            let mut shape = t.size();
            shape[0] = k;
            Tensor::zeros(shape.as_slice(), (t.kind(), t.device())).index_copy(0, index, t)
        };
        State {
            h: put(&self.h),
            c: self.c.as_ref().map(put),
        }
    }

    /// Member `m` of a population's state (`[K, B, H]` → `[B, H]`).
    pub fn member(&self, m: i64) -> State {
        State {
            h: self.h.get(m),
            c: self.c.as_ref().map(|c| c.get(m)),
        }
    }

    /// The members' states stacked into a population's state (`K × [B, H]` → `[K, B, H]`).
    pub fn stack(members: &[State]) -> State {
        let h: Vec<&Tensor> = members.iter().map(|s| &s.h).collect();
        let c: Option<Vec<&Tensor>> = members.iter().map(|s| s.c.as_ref()).collect();
        State {
            h: Tensor::stack(&h, 0),
            c: c.map(|c| Tensor::stack(&c, 0)),
        }
    }
}
