//! Timing and hardware probes: the timing loop ([`time_runs`]) and its statistics ([`Stats`]), the matmul FLOPs of
//! a case ([`matmul_flop`]), and the machine's arithmetic peak, dispatch floor and name.

use super::{Direction, Options, Shape};
use crate::cells::CellKind;
use crate::rng::Rng;
use anyhow::Result;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Timing statistics of a list of samples (ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Median, ms.
    pub median: f64,
    /// 10th percentile (linear interpolation between order statistics), ms.
    pub p10: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// Arithmetic mean, ms.
    pub mean: f64,
}

/// The `q`-quantile (0 ≤ q ≤ 1) of sorted samples, linearly interpolated between order statistics.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Stats {
    /// Statistics of `samples` (ms). Panics on an empty slice: every case is timed at least once.
    pub fn of(samples: &[f64]) -> Stats {
        assert!(!samples.is_empty(), "no samples to summarise");
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        Stats {
            median: quantile(&s, 0.5),
            p10: quantile(&s, 0.1),
            p90: quantile(&s, 0.9),
            mean: s.iter().sum::<f64>() / s.len() as f64,
        }
    }

    pub(super) fn scaled(self, by: f64) -> Stats {
        Stats {
            median: self.median * by,
            p10: self.p10 * by,
            p90: self.p90 * by,
            mean: self.mean * by,
        }
    }
}

fn synchronize(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Runs `f` `warmup` times untimed, then times it until `min_reps` runs and `min_time_s` seconds have passed (at
/// most `max_reps` runs). Returns each run's milliseconds.
pub fn time_runs(opts: &Options, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    for _ in 0..opts.warmup {
        f()?;
    }
    synchronize(opts.device);
    let start = Instant::now();
    let mut samples = vec![];
    while samples.len() < opts.min_reps.max(1)
        || (start.elapsed().as_secs_f64() < opts.min_time_s && samples.len() < opts.max_reps)
    {
        let t0 = Instant::now();
        f()?;
        synchronize(opts.device);
        samples.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok(samples)
}

/// Matmul FLOPs of one model's pass over `s`: `2·T·B·G·H·(D+H)` forward (the input projection and the recurrent
/// product; elementwise work is not counted); backward does two products of the same size per forward one.
pub fn matmul_flop(kind: CellKind, s: Shape, direction: Direction) -> f64 {
    let forward =
        2.0 * (s.seq * s.batch * kind.gates() * s.hidden) as f64 * (s.input + s.hidden) as f64;
    match direction {
        Direction::Forward => forward,
        Direction::ForwardBackward => 3.0 * forward,
    }
}

/// The practical matmul peak: GFLOP/s of an `n × n × n` f32 product, median of a few runs.
pub(super) fn measure_peak(opts: &Options, rng: &mut Rng) -> Result<(i64, f64)> {
    let n = match (opts.device, opts.quick) {
        (Device::Cpu, true) => 256,
        (Device::Cpu, false) => 1024,
        (_, true) => 1024,
        (_, false) => 4096,
    };
    let a = rng.randn(&[n, n], (Kind::Float, opts.device));
    let b = rng.randn(&[n, n], (Kind::Float, opts.device));
    let o = Options {
        min_reps: 5,
        max_reps: 50,
        min_time_s: if opts.quick { 0.0 } else { 0.3 },
        ..opts.clone()
    };
    let ms = Stats::of(&time_runs(&o, || {
        let _ = a.f_mm(&b)?;
        Ok(())
    })?)
    .median;
    Ok((n, 2.0 * (n as f64).powi(3) / (ms * 1e-3) / 1e9))
}

/// The dispatch floor: µs per tiny op, from the median of batches of 200 `a + b` on 1-element tensors.
pub(super) fn measure_op_overhead(opts: &Options) -> Result<f64> {
    let a = Tensor::ones([1], (Kind::Float, opts.device));
    let ops = 200;
    let ms = Stats::of(&time_runs(opts, || {
        for _ in 0..ops {
            let _ = a.f_add(&a)?;
        }
        Ok(())
    })?)
    .median;
    Ok(ms * 1e3 / ops as f64)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The device's description for the report: the CPU model, or CUDA with its cuDNN version.
pub(super) fn device_description(device: Device) -> String {
    match device {
        Device::Cpu => cpu_model(),
        _ => format!(
            "CUDA (cuDNN {})",
            if tch::Cuda::cudnn_is_available() {
                tch::utils::version_cudnn().to_string()
            } else {
                "unavailable".into()
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.median, 3.0);
        assert!((s.p10 - 1.4).abs() < 1e-12);
        assert!((s.p90 - 4.6).abs() < 1e-12);
        assert_eq!(s.mean, 3.0);
        let one = Stats::of(&[7.0]);
        assert_eq!((one.p10, one.median, one.p90), (7.0, 7.0, 7.0));
    }

    #[test]
    fn flop_count_matches_hand_count() {
        // LSTM, T=2, B=3, D=5, H=4: forward 2·2·3·16·(5+4) = 1728.
        let s = Shape {
            seq: 2,
            batch: 3,
            input: 5,
            hidden: 4,
        };
        assert_eq!(
            matmul_flop(CellKind::TorchLstm, s, Direction::Forward),
            1728.0
        );
        assert_eq!(
            matmul_flop(CellKind::TorchLstm, s, Direction::ForwardBackward),
            3.0 * 1728.0
        );
    }
}
