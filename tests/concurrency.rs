//! Two trainings in one process never touch each other, nor does anything else that draws from libtorch's
//! process-wide generator: every draw of a run (initial weights, weight noise, data order) comes from generators
//! the run owns, seeded from its config.
//!
//! The test runs two different trainings on two threads at once while a third thread keeps re-seeding libtorch's
//! global generator (`tch::manual_seed`) and drawing from it, and asks for exactly the metrics each training gives
//! alone, over several rounds. Under a design in which initialisation drew from the global generator, the third
//! thread changes the initial weights in nearly every round; a race that hits one round in five escapes all
//! `ROUNDS` rounds with probability 0.8^ROUNDS (1 % for 20 rounds).

mod common;

use common::{metrics_without_time, synthetic};
use rnnlab::cells::CellKind;
use rnnlab::config::TrainConfig;
use rnnlab::data::MusicData;
use rnnlab::device::Dtype;
use rnnlab::train::{self, Start};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use tch::{Device, Kind, Tensor};

const ROUNDS: usize = 20;

/// Two runs that differ in cell, size and seed; both with weight noise, so every source of randomness is used.
fn configs() -> [TrainConfig; 2] {
    let base = TrainConfig {
        lr_candidates: 2,
        batch_size: 4,
        chunk_len: 15,
        max_epochs: 2,
        weight_noise: 0.075,
        dtype: Dtype::F64,
        ..Default::default()
    };
    [
        TrainConfig {
            cell: CellKind::PaperGru,
            hidden: 8,
            seed: 3,
            ..base.clone()
        },
        TrainConfig {
            cell: CellKind::TorchLstm,
            hidden: 6,
            seed: 11,
            ..base
        },
    ]
}

fn run(cfg: &TrainConfig, data: &MusicData, dir: &Path) -> Vec<serde_json::Value> {
    train::train(cfg, data, Start::Fresh(dir), &mut |_| {}).unwrap();
    metrics_without_time(dir)
}

#[test]
fn concurrent_trainings_give_exactly_what_each_gives_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let cfgs = configs();
    let data = [1, 2].map(|seed| synthetic(seed, [8, 3, 3], 15..40));
    let alone: Vec<_> = (0..2)
        .map(|i| run(&cfgs[i], &data[i], &tmp.path().join(format!("alone{i}"))))
        .collect();
    assert_eq!(alone[0].len(), 2, "two epochs of metrics");
    assert_ne!(alone[0], alone[1], "the two runs must differ");

    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // The intruder: what an embedding program, or another test of the same binary, may do at any time.
        let intruder = s.spawn(|| {
            let mut draws = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tch::manual_seed(draws as i64);
                let _ = Tensor::randn([64], (Kind::Double, Device::Cpu));
                let _ = Tensor::empty([64], (Kind::Float, Device::Cpu)).uniform_(-1.0, 1.0);
                draws += 1;
            }
            draws
        });
        // The rounds run to the end before anything is asserted, so that a failure cannot leave the intruder
        // spinning (and the scope waiting for it).
        let rounds = std::panic::catch_unwind(|| {
            (0..ROUNDS)
                .map(|round| -> Vec<Vec<serde_json::Value>> {
                    std::thread::scope(|s| {
                        let handles: Vec<_> = (0..2)
                            .map(|i| {
                                let (cfg, data) = (&cfgs[i], &data[i]);
                                let dir = tmp.path().join(format!("round{round}_{i}"));
                                s.spawn(move || run(cfg, data, &dir))
                            })
                            .collect();
                        handles.into_iter().map(|h| h.join().unwrap()).collect()
                    })
                })
                .collect::<Vec<_>>()
        });
        stop.store(true, Ordering::Relaxed);
        let draws = intruder.join().unwrap();
        let rounds = rounds.expect("a training failed");
        assert!(draws > 0, "the intruder thread never drew");
        let mut differing = vec![];
        for (round, together) in rounds.iter().enumerate() {
            for i in 0..2 {
                if together[i] != alone[i] {
                    differing.push(format!("round {round} run {i}"));
                }
            }
        }
        assert!(
            differing.is_empty(),
            "{} of {} trainings run beside another run and the intruder ({draws} re-seeds) differ from the same \
             run alone: {}",
            differing.len(),
            2 * ROUNDS,
            differing.join(", ")
        );
        eprintln!("{ROUNDS} rounds of two concurrent runs equal the runs alone ({draws} intruder re-seeds)");
    });
}
