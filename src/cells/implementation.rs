//! Which code runs a recurrent layer: rnnlab's own cells ([`CustomLayer`](super::CustomLayer)) or one of libtorch's
//! fused kernels ([`BuiltinLayer`](super::BuiltinLayer)). The one vocabulary of the config key `implementation`, of
//! [`BuiltinLayer`](super::BuiltinLayer)'s mode and of the benchmark's tiers (each tier names the implementation it
//! times, see `bench::Tier`).

use super::CellKind;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which code runs the recurrent layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Implementation {
    /// rnnlab's own cells from tensor ops, all members in one batched op (any cell).
    #[default]
    Custom,
    /// rnnlab's own cells run member by member, each on its own slice of the population's parameters (any cell): the
    /// custom twin of the built-ins' member-by-member loop, so the two can be timed and compared on equal terms.
    CustomMember,
    /// libtorch's whole-sequence kernel (`at::gru`/`at::lstm`/`at::rnn_tanh`, cuDNN on CUDA), member by member
    /// (torch forms only).
    BuiltinSeq,
    /// libtorch's per-step kernel (`at::gru_cell`, …), member by member (torch forms only).
    BuiltinCell,
}

impl Implementation {
    /// libtorch's two ways of running a layer.
    pub const BUILTIN: [Implementation; 2] =
        [Implementation::BuiltinSeq, Implementation::BuiltinCell];

    /// The name in configs and tables (`custom`, `custom_member`, `builtin_seq`, `builtin_cell`).
    pub fn name(self) -> &'static str {
        match self {
            Implementation::Custom => "custom",
            Implementation::CustomMember => "custom_member",
            Implementation::BuiltinSeq => "builtin_seq",
            Implementation::BuiltinCell => "builtin_cell",
        }
    }

    /// Whether this runs one of libtorch's kernels (`builtin_seq`, `builtin_cell`).
    pub fn is_builtin(self) -> bool {
        Implementation::BUILTIN.contains(&self)
    }

    /// Whether this implementation can run `kind`: the built-in kernels compute the torch forms only.
    pub fn supports(self, kind: CellKind) -> bool {
        !self.is_builtin() || kind.has_builtin()
    }
}

impl fmt::Display for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Implementation {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "custom" => Ok(Implementation::Custom),
            "custom_member" => Ok(Implementation::CustomMember),
            "builtin_seq" => Ok(Implementation::BuiltinSeq),
            "builtin_cell" => Ok(Implementation::BuiltinCell),
            _ => {
                bail!("unknown implementation '{s}': expected custom, custom_member, builtin_seq or builtin_cell")
            }
        }
    }
}
