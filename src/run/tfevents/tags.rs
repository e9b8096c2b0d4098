//! The scalars rnnlab writes per epoch (a proposal; step = epoch, 1-based):
//! ```text
//! member_{m:02}/train_nll   mean NLL per frame of the epoch's updates (noisy weights), nats
//! member_{m:02}/valid_nll   validation NLL per frame, clean weights
//! member_{m:02}/test_nll    test NLL per frame, clean weights
//! member_{m:02}/lr          the member's learning rate
//! best/valid_nll            the lowest validation NLL of this epoch over the members that report one
//! best/test_nll             the test NLL of that same member (chosen by validation, never by test)
//! best/member               that member's index
//! ```
//! TensorBoard groups tags by the part before the first `/`, so each member's curves sit in one section and the
//! population's best in another. A value that is missing (the member did not evaluate this epoch) or not finite
//! (a diverged member) is not written: a NaN or an inf would flatten TensorBoard's automatic y-axis for every
//! curve of the chart, and the member's status is in metrics.csv anyway. `lr` is written for every member, so a
//! stopped or diverged member's section still shows its learning rate.

use crate::run::MemberMetrics;

/// One member's metrics of an epoch (the fields of [`MemberMetrics`] that become scalars).
#[derive(Clone, Copy, Debug, Default)]
pub struct MemberScalars {
    /// The member's learning rate.
    pub lr: f64,
    /// The epoch's train NLL (nats per frame), if any.
    pub train_nll: Option<f64>,
    /// The epoch's validation NLL, if any.
    pub valid_nll: Option<f64>,
    /// The epoch's test NLL, if any.
    pub test_nll: Option<f64>,
}

impl From<&MemberMetrics> for MemberScalars {
    fn from(m: &MemberMetrics) -> Self {
        MemberScalars {
            lr: m.lr,
            train_nll: m.train_nll,
            valid_nll: m.valid_nll,
            test_nll: m.test_nll,
        }
    }
}

/// The tag of member `m`'s `metric` (`train_nll`, `valid_nll`, `test_nll` or `lr`).
pub fn member_tag(m: usize, metric: &str) -> String {
    format!("member_{m:02}/{metric}")
}

/// The `(tag, value)` pairs of one epoch, members in order, then `best/*`.
pub fn epoch_scalars(members: &[MemberScalars]) -> Vec<(String, f64)> {
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    let mut out = Vec::new();
    for (m, s) in members.iter().enumerate() {
        for (metric, value) in [
            ("train_nll", finite(s.train_nll)),
            ("valid_nll", finite(s.valid_nll)),
            ("test_nll", finite(s.test_nll)),
            ("lr", finite(Some(s.lr))),
        ] {
            if let Some(v) = value {
                out.push((member_tag(m, metric), v));
            }
        }
    }
    // The one choice of a best member every part of rnnlab makes (lowest finite value, first on ties).
    let best = crate::run::best_member(members.iter().enumerate().map(|(m, s)| (m, s.valid_nll)))
        .and_then(|m| Some((m, finite(members[m].valid_nll)?)));
    if let Some((m, v)) = best {
        out.push(("best/valid_nll".to_string(), v));
        if let Some(t) = finite(members[m].test_nll) {
            out.push(("best/test_nll".to_string(), t));
        }
        out.push(("best/member".to_string(), m as f64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_best_member() {
        let members = [
            MemberScalars {
                lr: 1e-3,
                train_nll: Some(9.0),
                valid_nll: Some(8.0),
                test_nll: Some(8.5),
            },
            MemberScalars {
                lr: 1e-2,
                train_nll: Some(f64::NAN),
                valid_nll: None,
                test_nll: None,
            },
            MemberScalars {
                lr: 3e-3,
                train_nll: Some(7.5),
                valid_nll: Some(7.0),
                test_nll: Some(7.25),
            },
        ];
        let s = epoch_scalars(&members);
        let tags: Vec<&str> = s.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            tags,
            [
                "member_00/train_nll",
                "member_00/valid_nll",
                "member_00/test_nll",
                "member_00/lr",
                "member_01/lr",
                "member_02/train_nll",
                "member_02/valid_nll",
                "member_02/test_nll",
                "member_02/lr",
                "best/valid_nll",
                "best/test_nll",
                "best/member",
            ]
        );
        assert_eq!(
            &s[9..],
            &[
                ("best/valid_nll".to_string(), 7.0),
                ("best/test_nll".to_string(), 7.25),
                ("best/member".to_string(), 2.0)
            ]
        );
        assert_eq!(member_tag(12, "lr"), "member_12/lr");
    }

    #[test]
    fn no_best_without_a_validation_nll() {
        let s = epoch_scalars(&[MemberScalars {
            lr: 0.1,
            ..Default::default()
        }]);
        assert_eq!(s, vec![("member_00/lr".to_string(), 0.1)]);
    }
}
