//! Refusing a population that cannot fit, before anything big is allocated: a conservative estimate of what a run
//! of a config holds at its peak, from the config (population K, hidden size, unit, batch, chunk length, dtype) and
//! the data it trains on (the lengths of the pieces it uses), against the memory this process may use.
//!
//! ```text
//! parameters + state  12 · K · P · b      P: the model's parameters per member (an upper bound, all layouts), b: bytes
//!                                         per value; 12 copies: weights, best weights, RMSProp's two, gradient,
//!                                         weight noise, noisy weights, clipping, and the checkpoint's copy of four
//! one update          T · B · K · ((3G + 6)·H + 4·O) · b
//!                                         T: the chunk (the longest training piece for whole pieces), B: batch,
//!                                         G: gates, H: hidden, O: outputs; what autograd keeps per step and member
//! one evaluation      Tₑ · Bₑ · K · ((G + 2)·H + 3·O) · b      Tₑ: eval_chunk (or the longest piece), Bₑ: eval batch
//! data                2 · frames · (input + target) · b       every split on the device, with padding
//! ```
//! plus 512 MiB for libtorch itself and the data as read. The larger of the update and the evaluation counts (they do not overlap).
//! Against measured peaks (`docs/performance.md`, MuseData GRU, 30 members, one epoch on 20 training pieces, 64
//! sequences per evaluation batch): 1.09 GiB estimated where the run peaks at 1.01 GB resident (`eval_chunk = 100`),
//! 15.8 GiB where it peaks at 12.5 GB (`eval_chunk = 0`, one pass over pieces of up to 4273 frames).
//! On the CPU the estimate is compared with `MemAvailable` of `/proc/meminfo`, and with the room left under the
//! process's cgroup limit (`memory.max`, a Slurm job's `--mem`) where there is one; a CUDA run is not checked.

use super::TrainData;
use crate::config::{Chunking, TrainConfig};
use crate::data::Split;
use crate::model::Head;
use anyhow::{bail, Result};
use tch::Device;

const GIB: f64 = (1u64 << 30) as f64;
/// libtorch's own allocations, threads, the program, and the dataset as read from its file.
const OVERHEAD: u64 = 512 << 20;

/// The estimate, in bytes, by part.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The parameters and every copy training keeps of them (gradients, optimizer state, best weights, noise).
    pub parameters: u64,
    /// The activations of the largest update or evaluation slice, kept for the backward pass.
    pub activations: u64,
    /// The prepared data on the device.
    pub data: u64,
}

impl Estimate {
    /// Every part plus a fixed allowance for libtorch itself, the program and the data as read from its file.
    pub fn total(&self) -> u64 {
        self.parameters
            .saturating_add(self.activations)
            .saturating_add(self.data)
            .saturating_add(OVERHEAD)
    }
}

/// The piece lengths (frames or steps) of each split a run of `cfg` uses, train, valid, test.
pub type SplitLengths = [Vec<usize>; 3];

/// The split order of [`SplitLengths`].
pub const SPLITS: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

/// The peak memory of a run of `cfg` on data whose pieces have `lengths` (see the module doc).
pub fn estimate(cfg: &TrainConfig, lengths: &SplitLengths) -> Estimate {
    // A config whose width the data decides is resolved before the check (`check` refuses one that is not); an
    // unresolved one is estimated at width 1.
    let (head, input) = cfg
        .head_and_input()
        .unwrap_or((Head::Categorical { vocab: 1 }, 1));
    let target = match head {
        Head::Bernoulli { keys } => keys,
        Head::Mog { dim, .. } => dim,
        Head::Categorical { .. } => 1,
    };
    let (d, h, o) = (
        input as f64,
        cfg.hidden_size() as f64,
        head.outputs() as f64,
    );
    let g = cfg.cell.gates() as f64;
    let k = cfg.member_lrs().len() as f64;
    let b = match cfg.dtype.kind() {
        tch::Kind::Double => 8.0,
        _ => 4.0,
    };
    let per_member =
        cfg.cell.paper_param_count(input, cfg.hidden_size()) as f64 + g * h + d * h + h * o + o;
    let parameters = 12.0 * k * per_member * b;
    let longest = |ls: &[usize]| ls.iter().copied().max().unwrap_or(0) as f64;
    let train_t = match cfg.chunking() {
        Chunking::ZeroState(n) | Chunking::Carried(n) => (n as f64).min(longest(&lengths[0])),
        Chunking::Whole => longest(&lengths[0]),
    };
    let train_b = (cfg.batch_size as f64).min(lengths[0].len().max(1) as f64);
    let update = train_t * train_b * k * ((3.0 * g + 6.0) * h + 4.0 * o) * b;
    let eval_longest = longest(&lengths[1]).max(longest(&lengths[2]));
    let eval_t = if cfg.eval_chunk == 0 {
        eval_longest
    } else {
        (cfg.eval_chunk as f64).min(eval_longest)
    };
    let eval_b =
        (cfg.eval_batch_size as f64).min(lengths[1].len().max(lengths[2].len()).max(1) as f64);
    let evaluation = eval_t * eval_b * k * ((g + 2.0) * h + 3.0 * o) * b;
    let frames: usize = lengths.iter().flatten().sum();
    let data = 2.0 * frames as f64 * (d + target as f64) * b;
    let bytes = |x: f64| {
        if x.is_finite() {
            x.min(u64::MAX as f64) as u64
        } else {
            u64::MAX
        }
    };
    Estimate {
        parameters: bytes(parameters),
        activations: bytes(update.max(evaluation)),
        data: bytes(data),
    }
}

/// The memory this process may still use, in bytes, and where the figure comes from: `MemAvailable`, or the room
/// under the cgroup's `memory.max` when that is smaller. `None` where neither can be read (not Linux).
pub fn available() -> Option<(u64, &'static str)> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        });
    let cgroup = cgroup_room();
    match (meminfo, cgroup) {
        (Some(m), Some(c)) if c < m => Some((c, "left under this process's cgroup memory.max")),
        (Some(m), _) => Some((m, "MemAvailable in /proc/meminfo")),
        (None, Some(c)) => Some((c, "left under this process's cgroup memory.max")),
        (None, None) => None,
    }
}

/// `memory.max − memory.current` of this process's cgroup (v2), when it has a limit.
fn cgroup_room() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = std::path::Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    let read = |f: &str| -> Option<u64> {
        std::fs::read_to_string(dir.join(f))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let max = read("memory.max")?;
    let current = read("memory.current").unwrap_or(0);
    Some(max.saturating_sub(current))
}

/// Refuses (an error with the estimate and the memory available) a run of `cfg` on `data` that cannot fit in this
/// machine's memory; passes on CUDA, and where the available memory cannot be read.
pub fn check<D: TrainData + ?Sized>(cfg: &TrainConfig, data: &D, device: Device) -> Result<()> {
    if device != Device::Cpu {
        return Ok(());
    }
    let Some((avail, source)) = available() else {
        return Ok(());
    };
    cfg.head_and_input()?;
    let est = estimate(cfg, &data.lengths(cfg));
    if est.total() > avail {
        bail!(
            "a population of {} members ({}, hidden {}, batch {}, {}) needs about {:.1} GiB (parameters and \
             optimizer state {:.1} GiB, activations of one update or evaluation {:.1} GiB, data {:.1} GiB), but \
             this machine has {:.1} GiB available ({source}); lower lr_candidates or seeds, batch_size, chunk_len \
             or hidden, or run on a machine with more memory",
            cfg.member_lrs().len(),
            cfg.cell,
            cfg.hidden_size(),
            cfg.batch_size,
            cfg.chunking(),
            est.total() as f64 / GIB,
            est.parameters as f64 / GIB,
            est.activations as f64 / GIB,
            est.data as f64 / GIB,
            avail as f64 / GIB,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::CellKind;

    fn lengths() -> SplitLengths {
        [vec![120; 200], vec![150; 60], vec![90; 70]]
    }

    #[test]
    fn the_estimate_grows_with_the_population_and_counts_each_part() {
        let cfg = TrainConfig {
            cell: CellKind::PaperGru,
            hidden: 46,
            lr_candidates: 10,
            ..Default::default()
        };
        let ten = estimate(&cfg, &lengths());
        let hundred = estimate(
            &TrainConfig {
                lr_candidates: 100,
                ..cfg.clone()
            },
            &lengths(),
        );
        assert_eq!(hundred.parameters, 10 * ten.parameters);
        assert_eq!(hundred.data, ten.data);
        assert!(hundred.activations >= 9 * ten.activations);
        // The member's parameters: at least the recurrent layer and the output layer.
        let per_member = (3 * (88 * 46 + 46 * 46 + 46) + 46 * 88 + 88) as u64;
        assert!(ten.parameters >= 10 * per_member * 4 * 4);
        // 100 000 candidates: far beyond any machine's memory, and the sum does not overflow.
        let huge = estimate(
            &TrainConfig {
                lr_candidates: 100_000,
                ..cfg
            },
            &lengths(),
        );
        assert!(huge.total() > 64 * (1 << 30), "{huge:?}");
        let f64_run = estimate(
            &TrainConfig {
                dtype: crate::device::Dtype::F64,
                ..Default::default()
            },
            &lengths(),
        );
        let f32_run = estimate(&TrainConfig::default(), &lengths());
        assert_eq!(f64_run.data, 2 * f32_run.data);
    }

    #[test]
    fn whole_pieces_cost_their_longest_piece() {
        let chunked = TrainConfig {
            chunk_len: 50,
            ..Default::default()
        };
        let whole = TrainConfig {
            chunk_len: 0,
            eval_chunk: 0,
            ..chunked.clone()
        };
        let l = [vec![50, 1000], vec![10], vec![10]];
        assert!(estimate(&whole, &l).activations >= 19 * estimate(&chunked, &l).activations);
    }
}
