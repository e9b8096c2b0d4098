//! RMSProp with momentum, written with tensor ops so that its state is a list of tensors to checkpoint.
//!
//! Per parameter `w` with gradient `g`, for each population member (learning rate `lr`, `active` ∈ {0, 1}):
//! ```text
//! ms  ← ρ·ms + (1 − ρ)·g²                 ρ = rms_decay (0.95)
//! rms = max(√ms, floor)                   floor = rms_floor (1e-2), as in the paper authors' configs
//! v   ← active · (μ·v − lr·g / rms)       μ = momentum (0.9)
//! w   ← w + v
//! ```
//! A member that has stopped (early stopping) or diverged has `active = 0`: its weights no longer move.

use tch::Tensor;

/// RMSProp with momentum for a population (see the module doc): per-member learning rates and a per-member on/off
/// switch.
pub struct RmsProp {
    /// ρ, decay of the running mean of g² (the config's `rms_decay`, default 0.95).
    pub decay: f64,
    /// Lower bound on the RMS that divides the gradient (`rms_floor`, default 1e-2).
    pub floor: f64,
    /// μ, momentum of the velocity (`momentum`, default 0.9).
    pub momentum: f64,
    /// Running mean of g², one per parameter.
    pub mean_square: Vec<Tensor>,
    /// Velocity, one per parameter.
    pub velocity: Vec<Tensor>,
}

/// `[K]` → `[K, 1, …, 1]` to broadcast against a parameter of `like`'s rank.
pub fn per_member(v: &Tensor, like: &Tensor) -> Tensor {
    let mut shape = vec![-1i64];
    shape.extend(std::iter::repeat_n(1, like.dim() - 1));
    v.view(shape.as_slice())
}

impl RmsProp {
    /// Zero state (mean squares and velocities) for `params`, each with a leading `[K]`.
    pub fn new(params: &[&Tensor], decay: f64, floor: f64, momentum: f64) -> Self {
        let zeros = |p: &&Tensor| p.detach().zeros_like();
        RmsProp {
            decay,
            floor,
            momentum,
            mean_square: params.iter().map(zeros).collect(),
            velocity: params.iter().map(zeros).collect(),
        }
    }

    /// Applies one update. `lr`, `active`: `[K]`; every parameter and gradient has a leading `[K]`.
    ///
    /// ```
    /// use rnnlab::RmsProp;
    /// use tch::{Device, Kind, Tensor};
    ///
    /// // Two members of one parameter [K = 2, 3], the same gradient, learning rates 0.1 and 0 (member 1 frozen).
    /// let w = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
    /// let mut opt = RmsProp::new(&[&w], 0.95, 1e-2, 0.9);
    /// let grad = Tensor::ones([2, 3], (Kind::Float, Device::Cpu));
    /// opt.step(&[&w], &[grad], &Tensor::from_slice(&[0.1f32, 0.0]), &Tensor::from_slice(&[1.0f32, 1.0]));
    /// // ms = 0.05, rms = √0.05, v = −0.1 / √0.05
    /// let expected = -0.1 / 0.05f64.sqrt();
    /// assert!((w.double_value(&[0, 0]) - expected).abs() < 1e-6);
    /// assert_eq!(w.double_value(&[1, 0]), 0.0);
    /// ```
    pub fn step(&mut self, params: &[&Tensor], grads: &[Tensor], lr: &Tensor, active: &Tensor) {
        self.step_scaled(params, grads, lr, active, None)
    }

    /// [`RmsProp::step`] with each member's gradient first multiplied by `scale` (`[K]`; clipping's factor), in the
    /// same passes over the parameters. The on/off switch is folded into the per-member factors (`μ·active`,
    /// `lr·active`, exact for `active` ∈ {0, 1}), `(1 − ρ)` into the gradient's scaling (`√(1 − ρ)·scale`), and the
    /// state is updated in place: nine passes over each parameter's data, where one op per term of the equations
    /// took thirteen.
    pub fn step_scaled(
        &mut self,
        params: &[&Tensor],
        grads: &[Tensor],
        lr: &Tensor,
        active: &Tensor,
        scale: Option<&Tensor>,
    ) {
        tch::no_grad(|| {
            // g̃ = √(1 − ρ)·scale·g makes the mean square's update one fused pass, ms ← ρ·ms + g̃²; the velocity's
            // term −lr·g/rms is then −lr/√(1 − ρ) · g̃/rms.
            let root = (1.0 - self.decay).sqrt();
            let into_ms = match scale {
                Some(s) => s * root,
                None => active.ones_like() * root,
            };
            let minus_lr_on = -(lr * active) / root;
            let momentum_on = active * self.momentum;
            for (i, (p, g)) in params.iter().zip(grads).enumerate() {
                let g = g * per_member(&into_ms, p);
                let ms = &mut self.mean_square[i];
                let _ = ms.g_mul_scalar_(self.decay);
                let _ = ms.addcmul_(&g, &g);
                let mut rms = ms.sqrt();
                let _ = rms.clamp_min_(self.floor);
                let v = &mut self.velocity[i];
                let _ = v.g_mul_(&per_member(&momentum_on, p));
                let _ = v.addcdiv_(&(g * per_member(&minus_lr_on, p)), &rms);
                let _ = p.shallow_clone().g_add_(v);
            }
        })
    }

    /// The optimizer's state tensors to checkpoint: every mean square, then every velocity.
    pub fn state(&self) -> Vec<&Tensor> {
        self.mean_square.iter().chain(&self.velocity).collect()
    }
}
