//! Seeds inside the population (each seed's own learning-rate search), truncated BPTT with carried state, and
//! evaluation in time slices and in batches of any size: each must equal its plain counterpart to rounding.

use rnnlab::cells::{CellKind, State};
use rnnlab::config::TrainConfig;
use rnnlab::data::batch::{Batch, BatchSource, DeviceSplit};
use rnnlab::data::roll::PianoRoll;
use rnnlab::device::Dtype;
use rnnlab::model::{Implementation, Model, ModelConfig, KEYS};
use rnnlab::rng::Rng;
use rnnlab::run::{seed_of, MemberResult, Status, Summary, TrainState};
use rnnlab::train::Population;
use tch::{Device, Kind, Tensor};

/// A `[T, B, 88]` batch of random rolls whose sequence j predicts `t − 3j` frames (at least 1).
fn random_batch(rng: &mut Rng, t: i64, b: i64) -> (Tensor, Tensor, Tensor, usize) {
    let kind = Kind::Double;
    let roll = rng
        .uniform(&[t + 1, b, KEYS], 0.0, 1.0, (kind, Device::Cpu))
        .lt(0.15)
        .to_kind(kind);
    let steps = Tensor::arange(t, (Kind::Int64, Device::Cpu)).unsqueeze(1);
    let lens =
        Tensor::from_slice(&(0..b).map(|j| (t - 3 * j).max(1)).collect::<Vec<i64>>()).unsqueeze(0);
    let mask = steps.lt_tensor(&lens).to_kind(kind);
    let frames = mask.sum(Kind::Double).double_value(&[]) as usize;
    (roll.narrow(0, 0, t), roll.narrow(0, 1, t), mask, frames)
}

fn model(cell: CellKind, implementation: Implementation) -> Model {
    Model::new(
        &ModelConfig {
            head: rnnlab::model::Head::Bernoulli { keys: 88 },
            input: 88,
            cell,
            implementation,
            hidden: 7,
            population: 3,
            init_scale: 0.3,
            forget_bias: 0.0,
            kind: Kind::Double,
            device: Device::Cpu,
        },
        &mut Rng::new(0).unwrap(),
    )
    .unwrap()
}

fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// A piece cut into chunks, each started from the previous chunk's final state, gives the whole piece's NLL and
/// final state: the forward pass that carried-state training and sliced evaluation rely on. Checked for every cell,
/// and for libtorch's built-ins, which take the state member by member.
#[test]
fn chunked_forward_with_carried_state_equals_the_whole_piece() {
    let mut data = Rng::new(7).unwrap();
    let cases = [
        (CellKind::Tanh, Implementation::Custom),
        (CellKind::PaperGru, Implementation::Custom),
        (CellKind::PaperLstm, Implementation::Custom),
        (CellKind::TorchGru, Implementation::Custom),
        (CellKind::TorchLstm, Implementation::BuiltinSeq),
        (CellKind::TorchGru, Implementation::BuiltinCell),
    ];
    for (cell, implementation) in cases {
        let m = model(cell, implementation);
        let (x, y, mask, _) = random_batch(&mut data, 23, 4);
        let (whole, last_whole) = m.nll_sum_from(&x, &y, &mask, None).unwrap();
        for chunk in [1i64, 5, 22] {
            let mut state: Option<State> = None;
            let mut sum = Tensor::zeros([3], (Kind::Double, Device::Cpu));
            let mut start = 0;
            while start < 23 {
                let len = chunk.min(23 - start);
                let (s, last) = m
                    .nll_sum_from(
                        &x.narrow(0, start, len),
                        &y.narrow(0, start, len),
                        &mask.narrow(0, start, len),
                        state.as_ref(),
                    )
                    .unwrap();
                sum += s;
                state = Some(last);
                start += len;
            }
            let d = max_abs(&sum, &whole);
            assert!(
                d <= 1e-10,
                "{cell} {implementation} chunk {chunk}: NLL differs by {d:e}"
            );
            // The sums are O(1e3): 1e-10 is rounding, a state reset at a boundary would change them by O(1).
            let last = state.unwrap();
            assert!(max_abs(&last.h, &last_whole.h) <= 1e-12, "{cell} final h");
            if let (Some(c), Some(cw)) = (&last.c, &last_whole.c) {
                assert!(max_abs(c, cw) <= 1e-12, "{cell} final c");
            }
        }
        // A zero state at the boundary is not the same thing: the test can tell the two apart.
        let (a, _) = m
            .nll_sum_from(
                &x.narrow(0, 0, 11),
                &y.narrow(0, 0, 11),
                &mask.narrow(0, 0, 11),
                None,
            )
            .unwrap();
        let (b, _) = m
            .nll_sum_from(
                &x.narrow(0, 11, 12),
                &y.narrow(0, 11, 12),
                &mask.narrow(0, 11, 12),
                None,
            )
            .unwrap();
        assert!(
            max_abs(&(a + b), &whole) > 1e-6,
            "{cell}: resetting the state changed nothing"
        );
    }
}

/// Evaluation in time slices (`eval_chunk`) gives the NLL of one pass over the whole pieces.
#[test]
fn sliced_evaluation_equals_one_pass() {
    let mut data = Rng::new(3).unwrap();
    let cfg = TrainConfig {
        cell: CellKind::PaperLstm,
        hidden: 5,
        lrs: vec![1e-3, 2e-3],
        dtype: Dtype::F64,
        ..Default::default()
    };
    let mut pop = Population::new(&cfg, Device::Cpu).unwrap();
    let batches: Vec<Batch> = [(31, 4), (9, 2)]
        .iter()
        .map(|&(t, b)| {
            let (x, y, mask, frames) = random_batch(&mut data, t, b);
            Batch {
                x,
                y,
                mask,
                members: (0..b as usize).collect(),
                predicted_frames: frames,
                steps: (0..b).map(|j| (t - 3 * j).max(1)).collect(),
            }
        })
        .collect();
    let frames: usize = batches.iter().map(|b| b.predicted_frames).sum();
    pop.eval_chunk = 0;
    let whole = pop.evaluate(&batches, frames).unwrap();
    for chunk in [1, 4, 30, 100] {
        pop.eval_chunk = chunk;
        let sliced = pop.evaluate(&batches, frames).unwrap();
        for (a, b) in whole.iter().zip(&sliced) {
            assert!(
                (a - b).abs() <= 1e-12 * a.abs(),
                "eval_chunk {chunk}: {a} vs {b}"
            );
        }
    }
}

/// The evaluation NLL does not depend on how the pieces are grouped into batches (`eval_batch_size`): the same
/// seven pieces of different lengths, all in one batch, in batches of 2 or 3, or one by one, give each member the
/// same NLL per frame (f64, to rounding), also when the batches are cut into time slices.
#[test]
fn evaluation_is_independent_of_the_batch_grouping() {
    let mut data = Rng::new(5).unwrap();
    let cfg = TrainConfig {
        cell: CellKind::PaperGru,
        hidden: 6,
        lrs: vec![1e-3, 2e-3, 3e-3],
        dtype: Dtype::F64,
        ..Default::default()
    };
    let mut pop = Population::new(&cfg, Device::Cpu).unwrap();
    // Pieces of 2 to 18 frames (1 to 17 predicted), batched by the code evaluation uses.
    let lengths = [13usize, 4, 10, 18, 2, 7, 12];
    let pieces: Vec<PianoRoll> = lengths
        .iter()
        .map(|&t| {
            let keys = data
                .uniform(&[t as i64 * KEYS], 0.0, 1.0, (Kind::Float, Device::Cpu))
                .lt(0.15)
                .to_kind(Kind::Uint8);
            PianoRoll::new(t, Vec::<u8>::try_from(&keys).unwrap()).unwrap()
        })
        .collect();
    let split = DeviceSplit::new(&pieces, Device::Cpu).unwrap();
    let all: Vec<usize> = (0..lengths.len()).collect();
    let frames = split.predicted_frames();
    let grouped = |size: usize| -> Vec<Batch> {
        all.chunks(size)
            .map(|m| split.batch(m, Kind::Double).unwrap())
            .collect()
    };
    pop.eval_chunk = 0;
    let reference = pop.evaluate(&grouped(lengths.len()), frames).unwrap();
    assert!(reference.iter().all(|v| v.is_finite() && *v > 0.0));
    assert!(
        (reference[0] - reference[2]).abs() > 1e-6,
        "the members must differ for the comparison to mean anything"
    );
    for size in [1, 2, 3] {
        for chunk in [0, 4, 50] {
            pop.eval_chunk = chunk;
            let v = pop.evaluate(&grouped(size), frames).unwrap();
            for (a, b) in reference.iter().zip(&v) {
                assert!(
                    (a - b).abs() <= 1e-12 * a.abs(),
                    "batches of {size}, eval_chunk {chunk}: {a} vs {b}"
                );
            }
        }
    }
}

/// A population of 2 seeds × 2 learning rates trains each member exactly as that member trained alone (same
/// weights, same noise, same batches, carried state included); members are candidate-major, so member m belongs
/// to seed m % 2.
#[test]
fn population_of_seeds_equals_the_runs_alone() {
    let mut data = Rng::new(11).unwrap();
    let cfg = TrainConfig {
        cell: CellKind::PaperGru,
        hidden: 6,
        lrs: vec![3e-3, 1e-3],
        seeds: 2,
        dtype: Dtype::F64,
        ..Default::default()
    };
    let lrs = cfg.member_lrs();
    assert_eq!(lrs, vec![3e-3, 3e-3, 1e-3, 1e-3]);
    assert_eq!(
        (0..4).map(|m| seed_of(m, 2)).collect::<Vec<_>>(),
        vec![0, 1, 0, 1]
    );
    let mut pop = Population::new(&cfg, Device::Cpu).unwrap();
    let mut alone: Vec<Population> = lrs
        .iter()
        .enumerate()
        .map(|(m, &lr)| {
            let one = TrainConfig {
                lrs: vec![lr],
                seeds: 1,
                ..cfg.clone()
            };
            let p = Population::new(&one, Device::Cpu).unwrap();
            tch::no_grad(|| {
                for (src, dst) in pop.model.parameters().iter().zip(p.model.parameters()) {
                    dst.shallow_clone().copy_(&src.get(m as i64).unsqueeze(0));
                }
            });
            p
        })
        .collect();
    // Two consecutive chunks of the same pieces, the second from the first's final state.
    let (x, y, mask, _) = random_batch(&mut data, 14, 3);
    let mut carried: Option<State> = None;
    let mut carried_alone: Vec<Option<State>> = vec![None, None, None, None];
    for (start, len) in [(0i64, 7i64), (7, 7)] {
        let (xs, ys, ms) = (
            x.narrow(0, start, len),
            y.narrow(0, start, len),
            mask.narrow(0, start, len),
        );
        let frames = ms.sum(Kind::Double).double_value(&[]) as usize;
        let noise = pop.draw_noise(0.075).unwrap();
        let (_, _, last) = pop
            .update_from(&xs, &ys, &ms, frames, &noise, carried.as_ref())
            .unwrap();
        carried = Some(last);
        for (m, single) in alone.iter_mut().enumerate() {
            let own: Vec<Option<Tensor>> = noise
                .iter()
                .map(|n| n.as_ref().map(|n| n.narrow(0, m as i64, 1)))
                .collect();
            let (_, _, last) = single
                .update_from(&xs, &ys, &ms, frames, &own, carried_alone[m].as_ref())
                .unwrap();
            carried_alone[m] = Some(last);
        }
    }
    for (m, single) in alone.iter().enumerate() {
        for ((name, p), q) in pop
            .model
            .named_parameters()
            .iter()
            .zip(single.model.parameters())
        {
            let d = (p.get(m as i64) - q.get(0)).abs().max().double_value(&[]);
            assert!(d <= 1e-12, "member {m} {name}: {d:e}");
        }
    }
    // The seeds started from different weights (they are independent replicates, not copies).
    let w = &pop.model.parameters()[0];
    assert!(max_abs(&w.get(0), &w.get(1)) > 1e-3);
}

fn result(member: usize, valid: f64, test: f64, status: Status) -> MemberResult {
    MemberResult {
        member,
        lr: 1e-3,
        status,
        status_epoch: None,
        best_epoch: Some(1),
        train_nll: valid,
        valid_nll: valid,
        test_nll: test,
    }
}

/// Each seed chooses its own best member by validation NLL, among its own members only.
#[test]
fn each_seed_chooses_its_own_best_member() {
    // Members 0..6, 3 seeds: seed s holds members s, s + 3.
    let members = vec![
        result(0, 8.0, 8.1, Status::Stopped),
        result(1, 7.0, 7.2, Status::Stopped),
        result(2, 9.0, 9.1, Status::Diverged),
        result(3, 7.5, 7.4, Status::Stopped),
        result(4, 7.1, 7.0, Status::Stopped),
        result(5, f64::NAN, f64::NAN, Status::Diverged),
    ];
    assert_eq!(
        Summary::choose_best_per_seed(&members, 3),
        vec![Some(3), Some(1), None]
    );
    assert_eq!(Summary::choose_best(&members), Some(1));
    assert_eq!(
        Summary::choose_best_per_seed(&members, 1),
        vec![Some(1)],
        "one seed: the population's best"
    );
}

/// Training skips members that are no longer active (`skip_stopped`, on by default): with two of six members
/// stopped, two updates from a carried state and an evaluation give every active member exactly what the full
/// population gives it (f64, ≤ 1e-12), the stopped members' weights do not move, and the skipped ones' entries are
/// marked as not computed. Checked on the LSTM, whose state has two parts.
#[test]
fn skipping_stopped_members_changes_no_active_member() {
    let mut data = Rng::new(21).unwrap();
    let cfg = TrainConfig {
        cell: CellKind::PaperLstm,
        hidden: 5,
        lrs: vec![3e-3, 1e-3, 2e-3],
        seeds: 2,
        dtype: Dtype::F64,
        ..Default::default()
    };
    let mut skip = Population::new(&cfg, Device::Cpu).unwrap();
    let mut full = Population::new(&cfg, Device::Cpu).unwrap();
    full.skip_stopped = false;
    tch::no_grad(|| {
        for (src, dst) in skip.model.parameters().iter().zip(full.model.parameters()) {
            dst.shallow_clone().copy_(src);
        }
    });
    let initial: Vec<Tensor> = skip
        .model
        .parameters()
        .iter()
        .map(|p| p.detach().copy())
        .collect();
    let mut state = TrainState::fresh(1, &cfg.member_lrs());
    for m in [1, 4] {
        state.members[m].status = Status::Stopped;
    }
    skip.set_active(&state.members).unwrap();
    full.set_active(&state.members).unwrap();
    let active: Vec<bool> = (0..6).map(|m| m != 1 && m != 4).collect();
    assert_eq!(skip.active_members(), active.as_slice());

    let (x, y, mask, _) = random_batch(&mut data, 12, 3);
    let (mut carried_skip, mut carried_full): (Option<State>, Option<State>) = (None, None);
    for (start, len) in [(0i64, 6i64), (6, 6)] {
        let (xs, ys, ms) = (
            x.narrow(0, start, len),
            y.narrow(0, start, len),
            mask.narrow(0, start, len),
        );
        let frames = ms.sum(Kind::Double).double_value(&[]) as usize;
        let noise = skip.draw_noise(0.075).unwrap();
        let (nll_s, finite_s, last_s) = skip
            .update_from(&xs, &ys, &ms, frames, &noise, carried_skip.as_ref())
            .unwrap();
        let (nll_f, finite_f, last_f) = full
            .update_from(&xs, &ys, &ms, frames, &noise, carried_full.as_ref())
            .unwrap();
        assert!(finite_s.equal(&finite_f));
        for m in 0..6i64 {
            if active[m as usize] {
                assert!(
                    max_abs(&nll_s.get(m), &nll_f.get(m)) <= 1e-12,
                    "member {m} nll"
                );
                assert!(
                    max_abs(&last_s.h.get(m), &last_f.h.get(m)) <= 1e-12,
                    "member {m} h"
                );
                let (cs, cf) = (last_s.c.as_ref().unwrap(), last_f.c.as_ref().unwrap());
                assert!(max_abs(&cs.get(m), &cf.get(m)) <= 1e-12, "member {m} c");
            } else {
                // Skipped: no forward pass ran for it.
                assert_eq!(nll_s.get(m).double_value(&[]), 0.0, "member {m}");
                assert!(nll_f.get(m).double_value(&[]) > 0.0, "member {m}");
            }
        }
        carried_skip = Some(last_s);
        carried_full = Some(last_f);
    }
    for (i, ((name, p), q)) in skip
        .model
        .named_parameters()
        .iter()
        .zip(full.model.parameters())
        .enumerate()
    {
        for m in 0..6i64 {
            let d = max_abs(&p.get(m), &q.get(m));
            assert!(d <= 1e-12, "member {m} {name}: {d:e}");
            let moved = max_abs(&p.get(m), &initial[i].get(m));
            assert_eq!(
                moved > 0.0,
                active[m as usize],
                "member {m} {name} moved by {moved:e}"
            );
        }
    }

    let batch = {
        let (x, y, mask, frames) = random_batch(&mut data, 9, 2);
        Batch {
            x,
            y,
            mask,
            members: vec![0, 1],
            predicted_frames: frames,
            steps: (0..2).map(|j| (9 - 3 * j).max(1)).collect(),
        }
    };
    let frames = batch.predicted_frames;
    let some = skip
        .evaluate_members(std::slice::from_ref(&batch), frames, &active)
        .unwrap();
    let all = full.evaluate(std::slice::from_ref(&batch), frames).unwrap();
    for m in 0..6 {
        if active[m] {
            assert!(
                (some[m] - all[m]).abs() <= 1e-12 * all[m].abs(),
                "member {m}: {} vs {}",
                some[m],
                all[m]
            );
        } else {
            assert!(some[m].is_nan(), "member {m} was evaluated: {}", some[m]);
        }
    }
}
