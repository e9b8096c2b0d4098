//! Per-member bookkeeping of early stopping and divergence, as plain functions of the members' states.
//!
//! - A member whose update goes non-finite (NaN/Inf loss or gradient) **diverges** in that epoch: its weights stay
//!   frozen at their last finite values and it takes no further part.
//! - After each epoch, an active member whose validation NLL is non-finite diverges; one whose NLL is lower than its
//!   best so far **improves** (its current weights become its best); otherwise it counts one more epoch since its
//!   best, and **stops** once that count reaches `patience`.
//! - With pruning on ([`Pruning`], off by default), an active member that cannot catch its seed's best by the epoch
//!   cap at its recent rate of improvement is **pruned**.

use crate::run::{seed_of, MemberState, Status};

/// Marks the active members whose update went non-finite (`finite[m]` false) as diverged in `epoch`. Returns whether
/// any member was non-finite, when the caller refreshes the population's active mask.
pub fn record_divergence(members: &mut [MemberState], finite: &[bool], epoch: usize) -> bool {
    for (ms, &ok) in members.iter_mut().zip(finite) {
        if !ok && ms.status == Status::Active {
            ms.status = Status::Diverged;
            ms.status_epoch = Some(epoch);
        }
    }
    finite.iter().any(|f| !f)
}

/// Early stopping after `epoch`'s evaluation: `valid[m]` is member `m`'s validation NLL. Returns, per member,
/// whether it improved (and so takes its current weights as its best). Members no longer active are left as they
/// are.
pub fn record_validation(
    members: &mut [MemberState],
    valid: &[f64],
    epoch: usize,
    patience: usize,
) -> Vec<bool> {
    let mut improved = vec![false; members.len()];
    for (m, ms) in members.iter_mut().enumerate() {
        if ms.status != Status::Active {
            continue;
        }
        if !valid[m].is_finite() {
            ms.status = Status::Diverged;
            ms.status_epoch = Some(epoch);
            continue;
        }
        if ms.best_valid.is_none_or(|b| valid[m] < b) {
            ms.best_valid = Some(valid[m]);
            ms.best_epoch = Some(epoch);
            ms.epochs_since_best = 0;
            improved[m] = true;
        } else {
            ms.epochs_since_best += 1;
            if ms.epochs_since_best >= patience {
                ms.status = Status::Stopped;
                ms.status_epoch = Some(epoch);
            }
        }
    }
    improved
}

/// The pruning rule (`prune_after`, `prune_window` of [`crate::config::TrainConfig`]). After epoch `e ≥ after`, an
/// active member `m` of seed `s` with best validation NLL `b_m` so far is pruned when
/// ```text
/// b_m − min_{j ∈ seed s} b_j  >  rate_m · (cap − e),    rate_m = (b_m(e − window) − b_m) / window
/// ```
/// i.e. when even improving at its rate of the last `window` epochs until the cap it would stay behind the best of its
/// seed now (which can only get lower). Members of other seeds are not compared: each seed chooses its own best.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pruning {
    /// First epoch after which the rule is applied; 0 turns it off.
    pub after: usize,
    /// Epochs over which a member's rate of improvement is measured (`prune_window`).
    pub window: usize,
    /// The epoch cap (`max_epochs`).
    pub cap: usize,
    /// Seeds of the population (member `m` belongs to seed `m % seeds`).
    pub seeds: usize,
}

/// Applies [`Pruning`] after `epoch`'s early-stopping step. `best_history[e - 1][m]` is member `m`'s best validation
/// NLL after epoch `e` (NaN while it has none, or where the run's records lack that epoch; such a member is not
/// pruned then). Diverged members are not candidates for a seed's best, so they do not set it. Returns whether any
/// member was pruned.
pub fn record_pruning(
    members: &mut [MemberState],
    best_history: &[Vec<f64>],
    epoch: usize,
    rule: &Pruning,
) -> bool {
    if rule.after == 0 || epoch < rule.after || epoch <= rule.window {
        return false;
    }
    let Some(past) = best_history.get(epoch - 1 - rule.window) else {
        return false;
    };
    let seeds = rule.seeds.max(1);
    let mut leader = vec![f64::INFINITY; seeds];
    for (m, ms) in members.iter().enumerate() {
        if let (Some(b), true) = (ms.best_valid, ms.status != Status::Diverged) {
            let l = &mut leader[seed_of(m, seeds)];
            *l = l.min(b);
        }
    }
    let remaining = rule.cap.saturating_sub(epoch) as f64;
    let mut any = false;
    for (m, ms) in members.iter_mut().enumerate() {
        let (Status::Active, Some(now)) = (ms.status, ms.best_valid) else {
            continue;
        };
        let then = past.get(m).copied().unwrap_or(f64::NAN);
        if !then.is_finite() {
            continue;
        }
        let gap = now - leader[seed_of(m, seeds)];
        let rate = (then - now) / rule.window as f64;
        if gap > 0.0 && gap > rate * remaining {
            ms.status = Status::Pruned;
            ms.status_epoch = Some(epoch);
            any = true;
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::TrainState;

    fn members(k: usize) -> Vec<MemberState> {
        TrainState::fresh(1, &vec![1e-3; k]).members
    }

    #[test]
    fn a_member_stops_after_patience_epochs_without_a_better_validation_nll() {
        let mut ms = members(1);
        assert_eq!(record_validation(&mut ms, &[5.0], 1, 2), vec![true]);
        assert_eq!(
            (ms[0].best_valid, ms[0].best_epoch, ms[0].epochs_since_best),
            (Some(5.0), Some(1), 0)
        );
        // Equal is not better.
        assert_eq!(record_validation(&mut ms, &[5.0], 2, 2), vec![false]);
        assert_eq!((ms[0].epochs_since_best, ms[0].status), (1, Status::Active));
        // A better value resets the count.
        assert_eq!(record_validation(&mut ms, &[4.5], 3, 2), vec![true]);
        assert_eq!(
            (ms[0].best_valid, ms[0].best_epoch, ms[0].epochs_since_best),
            (Some(4.5), Some(3), 0)
        );
        assert_eq!(record_validation(&mut ms, &[4.6], 4, 2), vec![false]);
        assert_eq!(record_validation(&mut ms, &[4.7], 5, 2), vec![false]);
        assert_eq!(ms[0].status, Status::Stopped);
        assert_eq!(ms[0].status_epoch, Some(5));
        assert_eq!(ms[0].best_epoch, Some(3));
        // A stopped member is left alone, even by a better value.
        assert_eq!(record_validation(&mut ms, &[1.0], 6, 2), vec![false]);
        assert_eq!((ms[0].best_valid, ms[0].status_epoch), (Some(4.5), Some(5)));
    }

    #[test]
    fn a_non_finite_validation_nll_diverges_only_that_member() {
        let mut ms = members(3);
        let improved = record_validation(&mut ms, &[3.0, f64::NAN, f64::INFINITY], 1, 5);
        assert_eq!(improved, vec![true, false, false]);
        let status: Vec<Status> = ms.iter().map(|m| m.status).collect();
        assert_eq!(status, [Status::Active, Status::Diverged, Status::Diverged]);
        assert_eq!(ms[1].status_epoch, Some(1));
        assert_eq!(ms[1].best_valid, None);
    }

    #[test]
    fn a_non_finite_update_diverges_active_members_only() {
        let mut ms = members(3);
        ms[2].status = Status::Stopped;
        ms[2].status_epoch = Some(3);
        assert!(!record_divergence(&mut ms, &[true, true, true], 4));
        assert!(ms.iter().all(|m| m.status != Status::Diverged));
        assert!(record_divergence(&mut ms, &[true, false, false], 4));
        assert_eq!(ms[0].status, Status::Active);
        assert_eq!(
            (ms[1].status, ms[1].status_epoch),
            (Status::Diverged, Some(4))
        );
        // Already stopped: it keeps its status and epoch.
        assert_eq!(
            (ms[2].status, ms[2].status_epoch),
            (Status::Stopped, Some(3))
        );
        // A later non-finite update does not move the epoch of an earlier divergence.
        assert!(record_divergence(&mut ms, &[true, false, true], 5));
        assert_eq!(ms[1].status_epoch, Some(4));
    }

    fn pruning(after: usize) -> Pruning {
        Pruning {
            after,
            window: 2,
            cap: 10,
            seeds: 2,
        }
    }

    /// Members 0 and 2 are seed 0, 1 and 3 seed 1 (m % 2). History rows: after epochs 1..=4.
    fn pruning_case() -> (Vec<MemberState>, Vec<Vec<f64>>) {
        let mut ms = members(4);
        let history = vec![
            vec![9.0, 9.0, 9.0, 9.0],
            vec![8.0, 8.0, 8.9, 6.0],
            vec![7.0, 7.5, 8.8, 5.9],
            vec![6.0, 7.4, 8.7, 5.8],
        ];
        for (m, b) in history[3].iter().enumerate() {
            ms[m].best_valid = Some(*b);
        }
        (ms, history)
    }

    #[test]
    fn pruning_stops_a_member_that_cannot_catch_its_seeds_best_at_its_rate() {
        let (mut ms, history) = pruning_case();
        // Epoch 4, 6 epochs left. Seed 0: leader 6.0 (member 0); member 2 is 2.7 behind at (8.9 − 8.7)/2 = 0.1 per
        // epoch, 0.6 by the cap: pruned. Seed 1: leader 5.8 (member 3); member 1 is 1.6 behind at 0.3 per epoch,
        // 1.8 by the cap: kept.
        assert!(record_pruning(&mut ms, &history, 4, &pruning(3)));
        let status: Vec<Status> = ms.iter().map(|m| m.status).collect();
        assert_eq!(
            status,
            [
                Status::Active,
                Status::Active,
                Status::Pruned,
                Status::Active
            ]
        );
        assert_eq!(ms[2].status_epoch, Some(4));
        // A pruned member is not pruned again; nothing else qualifies.
        assert!(!record_pruning(&mut ms, &history, 4, &pruning(3)));
    }

    #[test]
    fn pruning_compares_within_a_seed_and_never_prunes_a_seeds_best() {
        let (mut ms, history) = pruning_case();
        // With seed 1's other member diverged, member 1 leads its seed and stays, however far it is behind seed 0's
        // best (6.0 < 7.4).
        ms[3].status = Status::Diverged;
        record_pruning(&mut ms, &history, 4, &pruning(3));
        assert_eq!(ms[1].status, Status::Active);
        assert_eq!(
            ms[0].status,
            Status::Active,
            "a seed's best is never pruned"
        );
        assert_eq!(ms[2].status, Status::Pruned);
    }

    #[test]
    fn pruning_waits_for_its_epoch_and_its_history_and_is_off_at_zero() {
        for (after, epoch) in [(0, 4), (5, 4)] {
            let (mut ms, history) = pruning_case();
            assert!(!record_pruning(&mut ms, &history, epoch, &pruning(after)));
            assert!(ms.iter().all(|m| m.status == Status::Active));
        }
        // Epoch 2 with a window of 2 has no rate yet.
        let (mut ms, history) = pruning_case();
        assert!(!record_pruning(&mut ms, &history[..2], 2, &pruning(1)));
        // A member with no recorded value `window` epochs ago is kept.
        let (mut ms, mut history) = pruning_case();
        history[1][2] = f64::NAN;
        record_pruning(&mut ms, &history, 4, &pruning(3));
        assert_eq!(ms[2].status, Status::Active);
        // At the cap nothing is left to gain: every member behind its seed's best is pruned.
        let (mut ms, history) = pruning_case();
        let rule = Pruning {
            cap: 4,
            ..pruning(3)
        };
        record_pruning(&mut ms, &history, 4, &rule);
        let status: Vec<Status> = ms.iter().map(|m| m.status).collect();
        assert_eq!(
            status,
            [
                Status::Active,
                Status::Pruned,
                Status::Pruned,
                Status::Active
            ]
        );
    }
}
