//! K models trained at once: a learning-rate search as one batched population, from the library.
//!
//! Every parameter of a population carries a leading `[K]` dimension (`RnnConfig::population`), the K members read
//! the same batch, and `rnnlab::RmsProp` steps each member with its own learning rate (a `[K]` tensor): one forward
//! and one backward pass train the whole search. `torch.func.vmap` has no batching rule for PyTorch's GRU and LSTM,
//! so elsewhere such a search runs member after member.
//!
//! The task here is synthetic: predict the next step of noisy sums of sinusoids.
//!   cargo run --release --example population -- --cell paper_gru --members 8 --steps 300

use anyhow::{bail, Result};
use rnnlab::nn::{population_linear, rnn, RnnConfig};
use rnnlab::{CellKind, RmsProp};
use tch::nn::{Module, RNN};
use tch::{nn, Device, Kind, Tensor};

/// `[batch, time + 1, 2]` sequences: two noisy sinusoids of random frequency and phase.
fn batch(batch: i64, time: i64) -> Tensor {
    let opts = (Kind::Float, Device::Cpu);
    let t = Tensor::arange(time + 1, opts).view([1, -1, 1]);
    let freq = Tensor::rand([batch, 1, 2], opts) * 0.4 + 0.05;
    let phase = Tensor::rand([batch, 1, 2], opts) * std::f64::consts::TAU;
    (t * freq + phase).sin() + Tensor::randn([batch, time + 1, 2], opts) * 0.05
}

/// Each member's mean squared error of its next-step predictions: `[K]`.
fn per_member_mse(
    layer: &rnnlab::Rnn,
    head: &rnnlab::nn::PopulationLinear,
    seq: &Tensor,
) -> Tensor {
    let time = seq.size()[1] - 1;
    let (out, _) = layer.seq(&seq.narrow(1, 0, time)); // [K, B, T, H]
    let pred = head.forward(&out); // [K, B, T, 2]
    (pred - seq.narrow(1, 1, time))
        .square()
        .mean_dim(&[1i64, 2, 3][..], false, Kind::Float)
}

fn main() -> Result<()> {
    let (mut cell, mut k, mut steps) = (CellKind::PaperGru, 8i64, 300usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--cell" => cell = value.parse()?,
            "--members" => k = value.parse()?,
            "--steps" => steps = value.parse()?,
            _ => bail!("usage: population [--cell NAME] [--members K] [--steps N]"),
        }
    }
    if k < 1 {
        bail!("--members must be at least 1");
    }
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = RnnConfig {
        population: Some(k),
        seed: Some(2014),
        ..Default::default()
    };
    let layer = rnn(vs.root() / "rnn", cell, 2, 32, cfg)?;
    let head = population_linear(vs.root() / "out", k, 32, 2, 2015)?;

    // Learning rates log-spaced over [1e-4, 3e-2], one per member.
    let lrs: Vec<f32> = (0..k)
        .map(|m| {
            let f = if k == 1 {
                0.5
            } else {
                m as f64 / (k - 1) as f64
            };
            (1e-4f64.ln() + f * (3e-2f64 / 1e-4).ln()).exp() as f32
        })
        .collect();
    let lr = Tensor::from_slice(&lrs);
    // A member whose loss stops being finite is stopped (its weights no longer move); the others train on.
    let mut active = Tensor::ones([k], (Kind::Float, Device::Cpu));
    let params = vs.trainable_variables();
    let refs: Vec<&Tensor> = params.iter().collect();
    let mut opt = RmsProp::new(&refs, 0.95, 1e-2, 0.9);
    let valid = batch(64, 50);
    for step in 1..=steps {
        let loss = per_member_mse(&layer, &head, &batch(16, 50));
        active = &active * loss.isfinite().to_kind(Kind::Float);
        // Summing the members' losses keeps their gradients apart: each parameter slice sees its own member only.
        for mut p in params.iter().map(Tensor::shallow_clone) {
            p.zero_grad();
        }
        loss.nan_to_num(0.0, 0.0, 0.0).sum(Kind::Float).backward();
        let grads: Vec<Tensor> = params.iter().map(|p| p.grad().clamp(-1.0, 1.0)).collect();
        opt.step(&refs, &grads, &lr, &active);
        if step % 100 == 0 || step == steps {
            let v = tch::no_grad(|| per_member_mse(&layer, &head, &valid));
            let v: Vec<f64> = Vec::<f64>::try_from(v.to_kind(Kind::Double))?;
            let shown: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
            println!(
                "step {step:4}  validation MSE per member: {}",
                shown.join(" ")
            );
        }
    }
    let v: Vec<f64> = Vec::<f64>::try_from(
        tch::no_grad(|| per_member_mse(&layer, &head, &valid)).to_kind(Kind::Double),
    )?;
    let best = (0..v.len())
        .filter(|&m| v[m].is_finite())
        .min_by(|&a, &b| v[a].total_cmp(&v[b]));
    match best {
        Some(m) => println!(
            "{cell}, {k} members in one population: the best learning rate is {:.2e} (member {m}, validation MSE {:.4})",
            lrs[m], v[m]
        ),
        None => println!("{cell}: every member diverged"),
    }
    Ok(())
}
