//! The custom cells learn what libtorch's built-ins learn: the same seed gives the same initial weights whatever the
//! implementation, and in f64 training with the custom cells (batched or member by member) and with `builtin_seq` /
//! `builtin_cell` agrees to round-off after several updates and epochs. Synthetic piano rolls, so no dataset is
//! needed.

mod common;

use common::synthetic;
use rnnlab::cells::CellKind;
use rnnlab::config::TrainConfig;
use rnnlab::device::Dtype;
use rnnlab::model::{Implementation, Model, ModelConfig};
use rnnlab::rng::Rng;
use rnnlab::train::{self, Start};
use tch::{Device, Kind, Tensor};

const CELLS: [CellKind; 3] = [CellKind::Tanh, CellKind::TorchGru, CellKind::TorchLstm];
const ALL: [Implementation; 4] = [
    Implementation::Custom,
    Implementation::CustomMember,
    Implementation::BuiltinSeq,
    Implementation::BuiltinCell,
];
/// The f64 bounds `rnnlab compare` asserts (see `rnnlab::compare::Tolerance`).
const WEIGHT_TOL: f64 = 1e-12;
const NLL_TOL: f64 = 1e-10;

fn config(cell: CellKind, implementation: Implementation) -> TrainConfig {
    TrainConfig {
        cell,
        implementation,
        hidden: 12,
        lr_candidates: 3,
        batch_size: 4,
        chunk_len: 20,
        max_epochs: 2,
        dtype: Dtype::F64,
        ..Default::default()
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// `Model::new` draws the same weights from the same seed whatever the implementation.
#[test]
fn same_seed_same_initial_weights_for_every_implementation() {
    for cell in CELLS {
        let draw = |implementation| {
            Model::new(
                &ModelConfig {
                    head: rnnlab::model::Head::Bernoulli { keys: 88 },
                    input: 88,
                    cell,
                    implementation,
                    hidden: 10,
                    population: 3,
                    init_scale: 0.1,
                    forget_bias: 0.0,
                    kind: Kind::Double,
                    device: Device::Cpu,
                },
                &mut Rng::new(2014).unwrap(),
            )
            .unwrap()
        };
        let reference = draw(Implementation::Custom);
        for implementation in ALL {
            let model = draw(implementation);
            for ((name, a), (_, b)) in model
                .named_parameters()
                .iter()
                .zip(reference.named_parameters())
            {
                assert!(
                    a.equal(b),
                    "{cell} {implementation}: {name} differs from the custom model's"
                );
            }
        }
    }
}

/// After three updates (same batches, same weight noise), every implementation's weights equal the population's to
/// round-off.
#[test]
fn f64_weights_agree_after_three_updates() {
    let data = synthetic(7, [12, 4, 4], 20..60);
    for cell in CELLS {
        let reference =
            train::weights_after_updates(&config(cell, Implementation::Custom), &data, 3).unwrap();
        for implementation in ALL {
            let w = train::weights_after_updates(&config(cell, implementation), &data, 3).unwrap();
            let mut worst: f64 = 0.0;
            for ((name, a), (_, b)) in w.iter().zip(&reference) {
                let d = max_abs_diff(a, b);
                assert!(
                    d <= WEIGHT_TOL,
                    "{cell} {implementation}: {name} differs by {d:e} after 3 updates"
                );
                worst = worst.max(d);
            }
            // The updates moved the weights: the comparison is not of untouched initial values.
            let init =
                rnnlab::train::Population::new(&config(cell, implementation), Device::Cpu).unwrap();
            let moved = max_abs_diff(&w[0].1, init.model.parameters()[0]);
            assert!(
                moved > 1e-6,
                "{cell} {implementation}: the weights did not move"
            );
            eprintln!("{cell} {implementation}: max |Δw| = {worst:e} (moved {moved:e})");
        }
    }
}

/// Two epochs of training: every member's train/valid/test NLL at every epoch agrees to round-off.
#[test]
fn f64_nlls_agree_over_two_epochs() {
    let data = synthetic(7, [12, 4, 4], 20..60);
    let dir = tempfile::tempdir().unwrap();
    for cell in [CellKind::TorchGru, CellKind::TorchLstm] {
        let mut curves = Vec::new();
        for implementation in [Implementation::Custom, Implementation::BuiltinSeq] {
            let out = dir.path().join(format!("{cell}_{implementation}"));
            let mut epochs = Vec::new();
            train::train(
                &config(cell, implementation),
                &data,
                Start::Fresh(&out),
                &mut |p| {
                    if let train::Progress::EpochEnd(m) = p {
                        epochs.push(m.clone());
                    }
                },
            )
            .unwrap();
            curves.push(epochs);
        }
        assert_eq!(curves[0].len(), 2);
        for (a, b) in curves[0].iter().zip(&curves[1]) {
            for (m, (x, y)) in a.members.iter().zip(&b.members).enumerate() {
                for (q, (u, v)) in [
                    (x.train_nll, y.train_nll),
                    (x.valid_nll, y.valid_nll),
                    (x.test_nll, y.test_nll),
                ]
                .into_iter()
                .enumerate()
                {
                    let (u, v) = (u.unwrap(), v.unwrap());
                    assert!(
                        (u - v).abs() <= NLL_TOL,
                        "{cell}: epoch {}, member {m}, quantity {q}: {u} against {v}",
                        a.epoch
                    );
                }
            }
        }
    }
}
