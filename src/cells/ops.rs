//! The tensor ops the cells share: projections and per-member broadcasting for a single model or a population.

use tch::Tensor;

/// `x W^T + b` where `w` is `[G, D]` or a population's `[K, G, D]`. `x` is `[..., D]`, or `[K, ..., D]` with
/// per-member inputs; a population with shared input broadcasts it to every member.
pub(crate) fn project(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    if w.dim() == 2 {
        return x.linear(w, b);
    }
    let size = x.size();
    let k = w.size()[0];
    let d = size[size.len() - 1];
    let per_member = size.len() == 4 && size[0] == k;
    let rows = if per_member { k } else { 1 };
    let flat = x.reshape([rows, -1, d]);
    let out = match b {
        // The bias as one more input column: `[x, 1] [W, b]^T` in one batched matmul. `b + x W^T` would first
        // broadcast the bias into the whole `[K, N, G]` output, a pass over it as long as the product's own
        // write; the column costs a copy of the input instead, one for all members when they share it. MKL adds
        // the column's term last, as `baddbmm` adds `b`: the same numbers (`results/head-fusion-check.md`).
        Some(b) if rows == 1 || d + 1 < w.size()[1] => {
            let ones = Tensor::ones([rows, flat.size()[1], 1], (x.kind(), x.device()));
            let xa = Tensor::cat(&[flat, ones], -1);
            let wa = Tensor::cat(&[w.transpose(1, 2), b.unsqueeze(1)], 1);
            xa.expand([k, -1, d + 1], false).bmm(&wa)
        }
        Some(b) => b
            .unsqueeze(1)
            .baddbmm(&flat.expand([k, -1, d], false), &right_factor(w), 1, 1),
        None => flat.matmul(&right_factor(w)),
    };
    let lead: Vec<i64> = if per_member {
        size[1..size.len() - 1].to_vec()
    } else {
        size[..size.len() - 1].to_vec()
    };
    let mut shape = vec![k];
    shape.extend(lead);
    shape.push(-1);
    out.reshape(shape)
}

/// `h W^T + b` for one time step: `h: [B, H]` with `w: [G, H]`, or `h: [K, B, H]` with `w: [K, G, H]`.
pub(super) fn recurrent(h: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    match (h.dim(), b) {
        (2, Some(b)) => b.addmm(h, &w.tr()),
        (2, None) => h.mm(&w.tr()),
        (_, Some(b)) => b.unsqueeze(1).baddbmm(h, &w.transpose(1, 2), 1, 1),
        (_, None) => h.bmm(&w.transpose(1, 2)),
    }
}

/// `t + b` where `b` is a per-unit bias `[H]`, or a population's `[K, H]`, and `t` is `[..., H]`: a single model's
/// tensor, a population's `[K, ..., H]`, or a population's shared input `[T, B, H]` (rank 3), which the sum lifts to
/// `[K, T, B, H]` (the shapes of [`project`] and of a layer's input, see [`super::check_input`]).
pub(crate) fn add_member_bias(t: &Tensor, b: &Tensor, population: Option<i64>) -> Tensor {
    let Some(k) = population else {
        return t + b;
    };
    let per_member = t.dim() == 4 && t.size()[0] == k;
    let lead = t.dim() - 1 - usize::from(per_member);
    let mut shape = vec![k];
    shape.extend(std::iter::repeat_n(1, lead));
    shape.push(-1);
    t + b.reshape(shape)
}

/// A per-gate vector `[H]` (or `[K, H]`) broadcast against `[(K,) B, H]`.
pub(super) fn per_unit(v: &Tensor) -> Tensor {
    v.unsqueeze(-2)
}

/// `w^T` (the last two dimensions swapped) as the right factor of a batched matmul: a view where autograd tracks
/// `w`, else (evaluation, or weights outside the graph) a row-major copy, which libtorch's CPU batched matmul
/// multiplies more than twice as fast as a transposed view for the small per-member matrices of a population
/// (`results/bmm-layout.txt`).
pub(crate) fn right_factor(w: &Tensor) -> Tensor {
    let wt = w.transpose(-1, -2);
    if crate::autograd::grad_enabled() && wt.requires_grad() {
        wt
    } else {
        wt.contiguous()
    }
}
