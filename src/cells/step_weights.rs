//! A cell's recurrent blocks cut once per sequence ([`StepWeights`]), and the recurrent-matrix gradients that a
//! training forward pass leaves to form once per chunk ([`Deferred`]).

use super::Cell;
use tch::{Device, Tensor};

/// A block of a cell's recurrent matrix (rows `start..start + rows` of parameter `param`, `[(K,) G, H]`) whose
/// pre-activation at each step is `xp[cols] + input · block^T`, `cols` being `col..col + rows` of the step's projected
/// input `xp` (see [`Cell::recurrent_blocks`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// The recurrent matrix's index in [`Cell::named_parameters`].
    pub param: usize,
    /// Its first row.
    pub start: i64,
    /// Its rows.
    pub rows: i64,
    /// The first column of `xp` its product is added to.
    pub col: i64,
}

impl Block {
    /// Rows `start..start + rows` of parameter `param`, added to the same columns of `xp`.
    pub fn rows(param: usize, start: i64, rows: i64) -> Block {
        Block {
            param,
            start,
            rows,
            col: start,
        }
    }
}

/// A cell's recurrent blocks cut once for a sequence (transposed for the step's matmul), and, when training defers
/// their gradients, each step's input to each block.
///
/// With `deferred`, the blocks are detached: the steps still pass gradients to the state through them, but no step
/// forms a gradient for the recurrent matrix. The trainer asks autograd for the gradient `δ` of the projected input
/// `xp` instead, and forms each block's gradient in one matmul over all steps, `Σ_t δ_t[cols]^T · input_t`
/// ([`Deferred::add_to`]): the sum that the steps would have accumulated one by one.
#[derive(Debug, Default)]
pub struct StepWeights {
    /// Each block transposed for the step's matmul (`[(K,) H, rows]`), and, deferring on a CPU, the block itself
    /// row-major for the backward pass (see [`crate::autograd::recurrent_product`]).
    blocks: Vec<(Block, Tensor, Option<Tensor>)>,
    inputs: Option<std::cell::RefCell<Vec<Vec<Tensor>>>>,
}

impl StepWeights {
    /// `cell`'s blocks ([`Cell::recurrent_blocks`]), cut and transposed; detached and recording with `deferred`.
    pub fn new(cell: &dyn Cell, deferred: bool) -> StepWeights {
        let named = cell.named_parameters();
        let blocks: Vec<(Block, Tensor, Option<Tensor>)> = cell
            .recurrent_blocks()
            .into_iter()
            .map(|b| {
                let w = named[b.param].1.narrow(-2, b.start, b.rows);
                match (deferred, w.device()) {
                    // Both layouts, each row-major: the forward pass multiplies by one, the backward by the other.
                    (true, Device::Cpu) => {
                        let w = w.detach();
                        (b, w.transpose(-1, -2).contiguous(), Some(w))
                    }
                    (true, _) => (b, w.detach().transpose(-1, -2), None),
                    (false, _) => (b, super::ops::right_factor(&w), None),
                }
            })
            .collect();
        let inputs = deferred
            .then(|| std::cell::RefCell::new((0..blocks.len()).map(|_| Vec::new()).collect()));
        StepWeights { blocks, inputs }
    }

    /// These weights when they hold the `blocks` blocks a cell's step uses, else `cell`'s own, made into `own` (the
    /// empty default, or another cell's, is never used for a step).
    pub fn or_own<'a>(
        &'a self,
        cell: &dyn Cell,
        blocks: usize,
        own: &'a mut Option<StepWeights>,
    ) -> &'a StepWeights {
        if self.blocks.len() == blocks {
            self
        } else {
            own.insert(StepWeights::new(cell, false))
        }
    }

    /// How many blocks it holds.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether it holds no block.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// `a + input · block_i^T` for one step (the sum fused into the matmul); `input: [(K,) B, H]`, `a` of the
    /// result's shape, `xp[cols]` of the step. Records `input` when deferring.
    pub fn matmul(&self, i: usize, a: &Tensor, input: &Tensor) -> Tensor {
        if let Some(inputs) = &self.inputs {
            inputs.borrow_mut()[i].push(input.detach());
        }
        let (_, wt, w) = &self.blocks[i];
        match w {
            Some(w) => crate::autograd::recurrent_product(a, input, wt, w),
            None if input.dim() == 2 => a.addmm(input, wt),
            None => a.baddbmm(input, wt, 1, 1),
        }
    }

    /// The recorded inputs of every block, stacked over time along `time_dim` (`None` when not deferring).
    pub(super) fn finish(self, time_dim: i64) -> Option<Vec<(Block, Tensor)>> {
        let inputs = self.inputs?.into_inner();
        Some(
            self.blocks
                .into_iter()
                .zip(inputs)
                .filter(|(_, steps)| !steps.is_empty())
                .map(|((b, _, _), steps)| (b, Tensor::stack(&steps, time_dim)))
                .collect(),
        )
    }
}

/// The recurrent-matrix gradients a training forward pass left to form ([`StepWeights`] with `deferred`): the
/// projected input `xp` whose gradient to ask autograd for, and each block's inputs over all steps; for a cell whose
/// input projection is linear ([`super::Cell::input_linear`]), that projection's weight and bias gradients too.
#[derive(Debug)]
pub struct Deferred {
    /// The projected input of every step, `[(K,) T, B, G]`: a tensor of the graph, or a leaf when the input
    /// projection's gradients are formed here.
    pub xp: Tensor,
    blocks: Vec<(Block, Tensor)>,
    /// The layer's input `x` and the indices of the projection's weight and biases.
    input: Option<(Tensor, usize, &'static [usize])>,
}

impl Deferred {
    pub(super) fn new(
        xp: Tensor,
        blocks: Vec<(Block, Tensor)>,
        input: Option<(Tensor, usize, &'static [usize])>,
    ) -> Deferred {
        Deferred { xp, blocks, input }
    }

    /// Adds each block's gradient, formed from `d_xp` (autograd's gradient of [`Deferred::xp`]), to the gradient of
    /// its recurrent matrix in `grads` (indexed as the cell's named parameters; an undefined gradient, that of a
    /// parameter no other path reached, becomes zeros first). `params` gives the shapes.
    pub fn add_to(&self, d_xp: &Tensor, params: &[&Tensor], grads: &mut [Tensor]) {
        tch::no_grad(|| {
            if let Some((x, w, biases)) = &self.input {
                input_gradients(x, d_xp, params, grads, *w, biases);
            }
            for (b, inputs) in &self.blocks {
                let g = &mut grads[b.param];
                if !g.defined() {
                    *g = params[b.param].zeros_like();
                }
                let h = inputs.size()[inputs.dim() - 1];
                let delta = d_xp.narrow(-1, b.col, b.rows);
                let (gw, rows) = if inputs.dim() == 3 {
                    // [T, B, H] and [T, B, rows]: one [rows, H] matmul.
                    let x = inputs.reshape([-1, h]);
                    let d = delta.reshape([-1, b.rows]);
                    (d.tr().mm(&x), g.narrow(0, b.start, b.rows))
                } else {
                    let k = inputs.size()[0];
                    let x = inputs.reshape([k, -1, h]);
                    let d = delta.reshape([k, -1, b.rows]);
                    (d.transpose(1, 2).bmm(&x), g.narrow(1, b.start, b.rows))
                };
                let _ = rows.shallow_clone().g_add_(&gw);
            }
        })
    }
}

/// Adds the gradients of `xp = x W^T + Σ biases` to those of `W` (`grads[w]`) and of each bias: per member
/// `δ^T x` over all steps and batch rows, and `Σ δ`. `x`: `[T, B, D]` (shared by a population's members) or
/// `[K, T, B, D]`; `d_xp`: `[(K,) T, B, G]`.
pub(super) fn input_gradients(
    x: &Tensor,
    d_xp: &Tensor,
    params: &[&Tensor],
    grads: &mut [Tensor],
    w: usize,
    biases: &[usize],
) {
    let d = x.size()[x.dim() - 1];
    let g = d_xp.size()[d_xp.dim() - 1];
    let (gw, gb) = if params[w].dim() == 2 {
        let delta = d_xp.reshape([-1, g]);
        (
            delta.tr().mm(&x.reshape([-1, d])),
            delta.sum_dim_intlist(0, false, delta.kind()),
        )
    } else {
        let k = params[w].size()[0];
        let delta = d_xp.reshape([k, -1, g]);
        let x = match x.dim() {
            3 => x.reshape([1, -1, d]).expand([k, -1, d], false),
            _ => x.reshape([k, -1, d]),
        };
        (
            delta.transpose(1, 2).bmm(&x),
            delta.sum_dim_intlist(1, false, delta.kind()),
        )
    };
    let mut add = |i: usize, t: &Tensor| {
        if grads[i].defined() {
            let _ = grads[i].g_add_(t);
        } else {
            grads[i] = t.shallow_clone();
        }
    };
    add(w, &gw);
    for (n, &b) in biases.iter().enumerate() {
        // The first bias takes the sum itself, any other its own copy (no two gradients share storage).
        add(
            b,
            &if n == 0 {
                gb.shallow_clone()
            } else {
                gb.copy()
            },
        );
    }
}
