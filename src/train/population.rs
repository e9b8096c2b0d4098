//! A population of K models trained together: the model, its RMSProp state, and each member's learning rate,
//! clipping and active flag. One update takes every active member one step (see the equations in [`super`]).

use super::head::bernoulli_loss_and_grads;
use super::rmsprop::{per_member, RmsProp};
use crate::autograd::grad;
use crate::cells::{Deferred, State};
use crate::config::TrainConfig;
use crate::data::{PreparedData, Split};
use crate::model::Implementation;
use crate::model::{Head, Model};
use crate::rng::Rng;
use crate::run::{checkpoint, MemberState, Status};
use crate::transfer::{upload, upload_i64};
use anyhow::{ensure, Context, Result};
use tch::{Device, Kind, Tensor};

/// A population of models with its optimizer and per-member hyper-parameters.
pub struct Population {
    /// The K models, their parameters stacked along a leading `[K]`.
    pub model: Model,
    /// The optimizer, with one state tensor per parameter.
    pub opt: RmsProp,
    /// `[K]` learning rates.
    pub lr: Tensor,
    /// `[K]`: 1 for members still training, 0 for stopped or diverged ones.
    pub active: Tensor,
    /// Each member's gradient is rescaled to this L2 norm (over all its parameters) when larger (`clip_norm`, default
    /// 1).
    pub clip_norm: f64,
    /// Which parameters get weight noise.
    pub noisy: Vec<bool>,
    /// Evaluation's time slice (frames; 0: whole pieces at once), see `TrainConfig::eval_chunk`.
    pub eval_chunk: usize,
    /// Run updates on the active members only (see [`Population::update_from`]); on by default, off to check that
    /// it changes nothing.
    pub skip_stopped: bool,
    /// The `active` flags on the host, to pick the members an update runs without a device round trip.
    active_host: Vec<bool>,
    /// The members an update runs (`[K']` on the device; `None`: all), made when `active_host` changes.
    update_index: Option<Tensor>,
    /// Each member's own random stream (its initial weights, then its weight noise, re-seeded every epoch), seeded
    /// from [`TrainConfig::member_seeds`].
    streams: Vec<Rng>,
    member_seeds: Vec<u64>,
}

/// A stream's seed for epoch `epoch`: re-seeding every epoch lets a resumed run draw the noise an uninterrupted one
/// draws without saving the generators' states.
pub(super) fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let u = crate::rng::SplitMix64::new(seed ^ (epoch as u64).wrapping_mul(0x2545_f491_4f6c_dd1d))
        .uniform01();
    (u * i64::MAX as f64) as u64
}

impl Population {
    /// A fresh population of `cfg`. Member m's initial weights are those of a one-model population drawn from its
    /// own stream (seeded with `cfg.member_seeds()[m]`): the same weights for a member whatever else the population
    /// holds and whatever else runs in the process.
    pub fn new(cfg: &TrainConfig, device: Device) -> Result<Self> {
        let lrs = cfg.member_lrs();
        let k = lrs.len() as i64;
        let kind = cfg.dtype.kind();
        let model_cfg = cfg.model_config(device)?;
        let model = Model::new(&model_cfg, &mut Rng::new(cfg.seed)?)?;
        let member_seeds = cfg.member_seeds();
        let mut streams = Vec::with_capacity(member_seeds.len());
        for (m, &seed) in member_seeds.iter().enumerate() {
            let mut rng = Rng::new(seed)?;
            let one = Model::new(
                &crate::model::ModelConfig {
                    population: 1,
                    ..model_cfg
                },
                &mut rng,
            )?;
            tch::no_grad(|| {
                for (p, q) in model.parameters().iter().zip(one.parameters()) {
                    p.narrow(0, m as i64, 1).copy_(q);
                }
            });
            streams.push(rng);
        }
        let opt = RmsProp::new(
            &model.parameters(),
            cfg.rms_decay,
            cfg.rms_floor,
            cfg.momentum,
        );
        let noisy = model
            .named_parameters()
            .iter()
            .map(|(n, _)| cfg.noise_on_biases || !n.contains("bias"))
            .collect();
        let mut pop = Population {
            model,
            opt,
            lr: Tensor::from_slice(&lrs).to_kind(kind).to_device(device),
            active: Tensor::ones([k], (kind, device)),
            clip_norm: cfg.clip_norm,
            noisy,
            eval_chunk: cfg.eval_chunk,
            skip_stopped: true,
            active_host: vec![true; k as usize],
            update_index: None,
            streams,
            member_seeds,
        };
        pop.start_epoch(1);
        Ok(pop)
    }

    /// Re-seeds every member's stream for epoch `epoch` (from its member seed and the epoch): the weight noise of an
    /// epoch does not depend on the epochs before it, so a resumed run draws what an uninterrupted one draws.
    pub fn start_epoch(&mut self, epoch: usize) {
        for (rng, &seed) in self.streams.iter_mut().zip(&self.member_seeds) {
            rng.reseed(epoch_seed(seed, epoch));
        }
    }

    /// The members (`[K']`, int64, on the device) a forward pass has to run when `members` (one flag per member)
    /// are needed: `None` for all of them, which is also the answer when skipping is off, when the implementation
    /// is not the batched custom one, or when no member is needed (the full pass then runs as before).
    fn subset(&self, members: &[bool]) -> Result<Option<Tensor>> {
        match self.skip_stopped {
            true => self.index_of(members),
            false => Ok(None),
        }
    }

    /// [`Population::subset`] whether skipping is on or off.
    fn index_of(&self, members: &[bool]) -> Result<Option<Tensor>> {
        let keep: Vec<i64> = (0..members.len() as i64)
            .filter(|&m| members[m as usize])
            .collect();
        let useful = self.model.implementation() == Implementation::Custom
            && !keep.is_empty()
            && keep.len() < members.len();
        Ok(match useful {
            true => Some(upload_i64(&keep, self.active.device())?),
            false => None,
        })
    }

    /// Fresh weight noise for one update, `[K, …]` per noisy parameter: N(0, σ²), each active member's drawn from its
    /// own stream (all its noisy parameters in one draw, in parameter order), zeros for the others (nothing is
    /// drawn for them, so a member's noise depends only on its own stream and the updates it takes). Drawn on the
    /// host and copied to the device with [`upload`] (no wait on a GPU); errors only if that copy fails.
    pub fn draw_noise(&mut self, sigma: f64) -> Result<Vec<Option<Tensor>>> {
        let params = self.model.parameters();
        if sigma <= 0.0 || !self.noisy.iter().any(|&n| n) {
            return Ok(params.iter().map(|_| None).collect());
        }
        let sizes: Vec<Vec<i64>> = params.iter().map(|p| p.size()[1..].to_vec()).collect();
        let counts: Vec<i64> = sizes
            .iter()
            .zip(&self.noisy)
            .map(|(s, &n)| if n { s.iter().product() } else { 0 })
            .collect();
        let total: i64 = counts.iter().sum();
        let (kind, device) = (params[0].kind(), params[0].device());
        // One buffer, a row per member: each active member's row filled from its own stream, the others zeroed.
        let k = self.streams.len() as i64;
        let mut all = Tensor::empty([k, total], (kind, Device::Cpu));
        for (m, (rng, &on)) in self.streams.iter_mut().zip(&self.active_host).enumerate() {
            let mut row = all.get(m as i64);
            match on {
                true => rng.fill_normal(&mut row),
                false => {
                    let _ = row.zero_();
                }
            }
        }
        let _ = all.g_mul_scalar_(sigma);
        let all = upload(all, device)?;
        let mut offset = 0;
        Ok(sizes
            .iter()
            .zip(&counts)
            .map(|(size, &n)| {
                (n > 0).then(|| {
                    let mut shape = vec![k];
                    shape.extend(size);
                    let t = all.narrow(1, offset, n).reshape(shape.as_slice());
                    offset += n;
                    t
                })
            })
            .collect())
    }

    /// One update on a batch with the given weight noise. Returns each member's NLL sum over the batch's
    /// predicted frames (at the noisy weights) and which members stayed finite (`[K]` bool), both on the device.
    pub fn update(
        &mut self,
        x: &Tensor,
        y: &Tensor,
        mask: &Tensor,
        frames: usize,
        noise: &[Option<Tensor>],
    ) -> Result<(Tensor, Tensor)> {
        let (nll, finite, _) = self.update_from(x, y, mask, frames, noise, None)?;
        Ok((nll, finite))
    }

    /// [`Population::update`] on a chunk that starts from `state` (zero when `None`); also returns the chunk's final
    /// state, detached (truncated BPTT: the next chunk starts from it, and the gradient stops there).
    ///
    /// The forward and backward passes run on leaves of their own, each active member's noisy weights `w + ε`; the
    /// weights themselves are only touched by the optimizer. Members that are no longer active (stopped or
    /// diverged) are left out of both passes when `skip_stopped` is on: their weights would not move anyway, so the
    /// active members' updates are the same, and a population whose early members have stopped costs what its
    /// active ones cost. A left-out member's NLL and final state come back as zeros.
    ///
    /// Nothing is read back to the host: a member whose update is not finite gets a zero step and is switched off
    /// on the device at once (the caller reads the flags once per epoch), so the update can run ahead of the host
    /// on a GPU.
    pub fn update_from(
        &mut self,
        x: &Tensor,
        y: &Tensor,
        mask: &Tensor,
        frames: usize,
        noise: &[Option<Tensor>],
        state: Option<&State>,
    ) -> Result<(Tensor, Tensor, State)> {
        let params = self.model.parameters();
        ensure!(noise.len() == params.len(), "one noise entry per parameter");
        let k = self.model.population();
        let (nll_sum, mut grads, last) = if self.model.implementation() == Implementation::Custom {
            let index = match self.skip_stopped {
                true => self.update_index.as_ref().map(Tensor::shallow_clone),
                false => None,
            };
            let leaves: Vec<Tensor> = tch::no_grad(|| {
                params
                    .iter()
                    .zip(noise)
                    .map(|(p, n)| {
                        let w = match (&index, n) {
                            (None, None) => p.detach(),
                            (None, Some(n)) => *p + n,
                            (Some(i), None) => p.index_select(0, i),
                            (Some(i), Some(n)) => p.index_select(0, i) + n.index_select(0, i),
                        };
                        w.set_requires_grad(true)
                    })
                    .collect()
            });
            let sub = self
                .model
                .with_parameters(leaves.iter().map(Tensor::shallow_clone).collect())?;
            let sub_state = match (&index, state) {
                (Some(i), Some(s)) => Some(s.select(i)),
                (_, s) => s.map(State::shallow_clone),
            };
            let leaf_refs: Vec<&Tensor> = leaves.iter().collect();
            let (nll, grads, last) =
                Self::loss_and_grads(&sub, x, y, mask, frames, &leaf_refs, sub_state.as_ref())?;
            match &index {
                None => (nll, grads, last),
                Some(i) => tch::no_grad(|| {
                    let full = |t: &Tensor| {
                        let mut shape = t.size();
                        shape[0] = k;
                        Tensor::zeros(shape.as_slice(), (t.kind(), t.device())).index_copy(0, i, t)
                    };
                    let grads = grads.iter().map(full).collect();
                    (full(&nll.detach()), grads, last.detach().scatter(i, k))
                }),
            }
        } else {
            // The built-in kernels read the model's own tensors: perturb them in place, restore them bit for bit.
            let clean: Vec<Option<Tensor>> = tch::no_grad(|| {
                params
                    .iter()
                    .zip(noise)
                    .map(|(p, n)| {
                        n.as_ref().map(|n| {
                            let saved = p.detach().copy();
                            let _ = p.shallow_clone().g_add_(n);
                            saved
                        })
                    })
                    .collect()
            });
            let result = Self::loss_and_grads(&self.model, x, y, mask, frames, &params, state);
            tch::no_grad(|| {
                for (p, c) in params.iter().zip(&clean) {
                    if let Some(c) = c {
                        p.shallow_clone().copy_(c);
                    }
                }
            });
            result?
        };

        // Per-member gradient norm over all parameters; rescale to ≤ clip_norm; zero non-finite members.
        let (finite, scale) = tch::no_grad(|| -> Result<(Tensor, Tensor)> {
            let sq: Tensor = grads
                .iter()
                .map(|g| {
                    g.square()
                        .flatten(1, -1)
                        .sum_dim_intlist(1, false, g.kind())
                })
                .reduce(|a, b| a + b)
                .context("the model has no parameters")?;
            let norm = sq.sqrt();
            let finite = norm.isfinite().logical_and(&nll_sum.isfinite());
            let scale = (self.clip_norm / &norm)
                .clamp_max(1.0)
                .where_self(&finite, &norm.zeros_like());
            for g in grads.iter_mut() {
                let _ = g.nan_to_num_(0.0, 0.0, 0.0);
            }
            Ok((finite, scale))
        })?;
        self.active = &self.active * finite.to_kind(self.active.kind());
        self.opt
            .step_scaled(&params, &grads, &self.lr, &self.active, Some(&scale));
        Ok((nll_sum.detach(), finite, last.detach()))
    }

    /// The per-member NLL sums, the gradients of `params` (the model's own parameters, in order) and the final
    /// state. Recurrent matrices' gradients are formed once over the chunk where the model defers them.
    fn loss_and_grads(
        model: &Model,
        x: &Tensor,
        y: &Tensor,
        mask: &Tensor,
        frames: usize,
        params: &[&Tensor],
        state: Option<&State>,
    ) -> Result<(Tensor, Vec<Tensor>, State)> {
        if let Head::Bernoulli { .. } = model.head() {
            return bernoulli_loss_and_grads(model, x, y, mask, frames, params, state);
        }
        let (nll_sum, last, deferred) = model.nll_sum_deferred(x, y, mask, state)?;
        // Σ_m L_m with L_m per frame; non-finite members are excluded so they cannot poison the others.
        let per_frame = &nll_sum / frames as f64;
        let safe = per_frame.where_self(&per_frame.isfinite(), &per_frame.zeros_like());
        let loss = safe.sum(safe.kind());
        let grads = backward(&loss, &loss.ones_like(), params, deferred.as_ref())?;
        Ok((nll_sum, grads, last))
    }

    /// NLL per predicted frame of every member over prepared batches, at the current (clean) weights. Each batch
    /// runs in time slices of `eval_chunk` frames with the state carried across (see `TrainConfig::eval_chunk`),
    /// so memory does not grow with the longest piece.
    pub fn evaluate(
        &self,
        batches: &[crate::data::batch::Batch],
        frames: usize,
    ) -> Result<Vec<f64>> {
        Self::evaluate_model(&self.model, self.eval_chunk, batches, frames)
    }

    /// [`Population::evaluate`] for the members flagged in `members`: the others are skipped where `skip_stopped` and
    /// the implementation allow (their entries are then NaN), else evaluated too.
    pub fn evaluate_members(
        &self,
        batches: &[crate::data::batch::Batch],
        frames: usize,
        members: &[bool],
    ) -> Result<Vec<f64>> {
        let Some(index) = self.subset(members)? else {
            return self.evaluate(batches, frames);
        };
        let sub = Self::evaluate_model(
            &self.model.select(&index)?,
            self.eval_chunk,
            batches,
            frames,
        )?;
        let mut all = vec![f64::NAN; members.len()];
        let kept = members
            .iter()
            .enumerate()
            .filter(|(_, &on)| on)
            .map(|(m, _)| m);
        for (m, v) in kept.zip(sub) {
            all[m] = v;
        }
        Ok(all)
    }

    fn evaluate_model(
        model: &Model,
        eval_chunk: usize,
        batches: &[crate::data::batch::Batch],
        frames: usize,
    ) -> Result<Vec<f64>> {
        tch::no_grad(|| {
            let mut total: Option<Tensor> = None;
            for b in batches {
                let s = Self::nll_in_slices(model, eval_chunk, b)?.to_kind(Kind::Double);
                total = Some(match total {
                    Some(t) => t + s,
                    None => s,
                });
            }
            let total = total.context("nothing to evaluate: the split is empty")?;
            super::host_read::<f64>(&(total / frames as f64))
        })
    }

    /// One batch's per-member NLL sum `[K]`, computed slice by slice with the state carried across.
    fn nll_in_slices(
        model: &Model,
        eval_chunk: usize,
        b: &crate::data::batch::Batch,
    ) -> Result<Tensor> {
        let mut state: Option<State> = None;
        let mut total: Option<Tensor> = None;
        for (start, len) in time_slices(&b.x, eval_chunk) {
            let (s, last) = model.nll_sum_from(
                &b.x.narrow(0, start, len),
                &b.y.narrow(0, start, len),
                &b.mask.narrow(0, start, len),
                state.as_ref(),
            )?;
            state = Some(last);
            total = Some(match total {
                Some(t) => t + s,
                None => s,
            });
        }
        total.context("an empty batch")
    }

    /// Named tensors for a checkpoint: weights, best weights and optimizer state.
    pub(super) fn checkpoint_tensors(
        &self,
        best: &[Tensor],
        epoch: usize,
    ) -> Vec<(String, Tensor)> {
        let named = self.model.named_parameters();
        let mut out: Vec<(String, Tensor)> = Vec::new();
        for (i, (name, t)) in named.iter().enumerate() {
            out.push((name.clone(), t.detach().to_device(Device::Cpu)));
            out.push((checkpoint::best_name(name), best[i].to_device(Device::Cpu)));
            out.push((
                checkpoint::mean_square_name(name),
                self.opt.mean_square[i].to_device(Device::Cpu),
            ));
            out.push((
                checkpoint::velocity_name(name),
                self.opt.velocity[i].to_device(Device::Cpu),
            ));
        }
        out.push((
            checkpoint::META_EPOCH.into(),
            Tensor::from_slice(&[epoch as i64]),
        ));
        out
    }

    /// Restores weights, best weights and optimizer state from a checkpoint's tensors.
    pub(super) fn restore(
        &mut self,
        tensors: &[(String, Tensor)],
        best: &mut [Tensor],
    ) -> Result<()> {
        use checkpoint::{copy_into, find};
        let named: Vec<(String, Tensor)> = self
            .model
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (n, t.shallow_clone()))
            .collect();
        tch::no_grad(|| -> Result<()> {
            for (i, (name, p)) in named.iter().enumerate() {
                copy_into(p, find(tensors, name)?, name)?;
                copy_into(&best[i], find(tensors, &checkpoint::best_name(name))?, name)?;
                copy_into(
                    &self.opt.mean_square[i],
                    find(tensors, &checkpoint::mean_square_name(name))?,
                    name,
                )?;
                copy_into(
                    &self.opt.velocity[i],
                    find(tensors, &checkpoint::velocity_name(name))?,
                    name,
                )?;
            }
            Ok(())
        })
    }

    /// A copy of the current weights (the best weights of a fresh run).
    pub(super) fn weights(&self) -> Vec<Tensor> {
        self.model
            .parameters()
            .iter()
            .map(|p| p.detach().copy())
            .collect()
    }

    /// Members that `improved` take their current weights as their best.
    pub(super) fn keep_best(&self, best: &mut [Tensor], improved: &[bool]) {
        if !improved.iter().any(|&i| i) {
            return;
        }
        let mask_f: Vec<f64> = improved
            .iter()
            .map(|&i| if i { 1.0 } else { 0.0 })
            .collect();
        let mask = Tensor::from_slice(&mask_f)
            .to_device(self.active.device())
            .gt(0.5);
        tch::no_grad(|| {
            for (b, p) in best.iter_mut().zip(self.model.parameters()) {
                *b = p.detach().where_self(&per_member(&mask, p), b);
            }
        });
    }

    /// Sets every member's weights to its best ones (before the final evaluation).
    pub(super) fn load_best(&self, best: &[Tensor]) {
        tch::no_grad(|| {
            for (p, b) in self.model.parameters().into_iter().zip(best) {
                p.shallow_clone().copy_(b);
            }
        });
    }

    /// NLL per predicted frame of every member over a whole split, at the current (clean) weights.
    pub(super) fn evaluate_split(&self, data: &PreparedData, split: Split) -> Result<Vec<f64>> {
        self.evaluate(data.eval_batches(split), data.frames(split))
    }

    /// Which members are active (`true`) on the host.
    pub fn active_members(&self) -> &[bool] {
        &self.active_host
    }

    /// Sets which members train from their early-stopping states: only `Status::Active` members take updates.
    /// Errors only when the members' index cannot be copied to the device.
    pub fn set_active(&mut self, members: &[MemberState]) -> Result<()> {
        self.active_host = members.iter().map(|m| m.status == Status::Active).collect();
        self.update_index = self.index_of(&self.active_host)?;
        let v: Vec<f64> = self
            .active_host
            .iter()
            .map(|&a| if a { 1.0 } else { 0.0 })
            .collect();
        self.active = Tensor::from_slice(&v)
            .to_kind(self.active.kind())
            .to_device(self.active.device());
        Ok(())
    }
}

/// The gradients of `Σ output · grad_output` with respect to `params`, autograd taking the recurrent matrices' (and a
/// linear input projection's) gradients through `deferred`'s projected input when the forward pass deferred them
/// ([`crate::cells::Deferred::add_to`]); a parameter the output does not reach gets zeros.
pub(super) fn backward(
    output: &Tensor,
    grad_output: &Tensor,
    params: &[&Tensor],
    deferred: Option<&Deferred>,
) -> Result<Vec<Tensor>> {
    let mut inputs: Vec<&Tensor> = params.to_vec();
    if let Some(d) = deferred {
        inputs.push(&d.xp);
    }
    let mut grads = grad(&[output], &[grad_output], &inputs)?;
    if let Some(d) = deferred {
        let d_xp = grads
            .pop()
            .context("the backward pass returned no gradient for xp")?;
        d.add_to(&d_xp, params, &mut grads);
    }
    for (g, p) in grads.iter_mut().zip(params) {
        if !g.defined() {
            *g = p.zeros_like();
        }
    }
    Ok(grads)
}

/// `(start, length)` of consecutive slices of at most `chunk` steps along the time axis (dim 0) of `x`; one slice
/// over everything when `chunk` is 0.
pub fn time_slices(x: &Tensor, chunk: usize) -> Vec<(i64, i64)> {
    let t = x.size()[0];
    if chunk == 0 || t <= chunk as i64 {
        return vec![(0, t)];
    }
    let c = chunk as i64;
    (0..t).step_by(chunk).map(|s| (s, c.min(t - s))).collect()
}
