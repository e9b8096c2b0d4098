//! Per-member bookkeeping of early stopping and divergence, as plain functions of the members' states.
//!
//! - A member whose update goes non-finite (NaN/Inf loss or gradient) **diverges** in that epoch: its weights stay
//!   frozen at their last finite values and it takes no further part.
//! - After each epoch, an active member whose validation NLL is non-finite diverges; one whose NLL is lower than its
//!   best so far **improves** (its current weights become its best); otherwise it counts one more epoch since its
//!   best, and **stops** once that count reaches `patience`.

use crate::run::{MemberState, Status};

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
}
