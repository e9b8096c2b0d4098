//! [`Chunking`]: how training cuts pieces into what one update sees.

/// How training cuts the pieces into what one update sees ([`TrainConfig::chunking`], from the keys `chunk_len` and
/// `carry_state`). Evaluation always runs whole pieces with the state carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunking {
    /// `chunk_len = 0`: every update sees whole pieces.
    Whole,
    /// Chunks of at most N predicted frames, each a sequence of its own starting from a zero state; cut once, when
    /// the data is prepared, and shuffled like pieces (the paper-scale and quick profiles).
    ZeroState(usize),
    /// Truncated BPTT: batches hold whole pieces, trained in consecutive chunks of N frames, in order, each starting
    /// from the previous chunk's final state (detached, so gradients stop at chunk boundaries).
    Carried(usize),
}

impl Chunking {
    /// The chunk length the data preparation cuts training pieces into (0: whole pieces).
    pub fn prepared_len(self) -> usize {
        match self {
            Chunking::ZeroState(n) => n,
            Chunking::Whole | Chunking::Carried(_) => 0,
        }
    }

    /// The length of the slices the trainer runs over a batch of whole pieces, carrying the state (0: one pass).
    pub fn carried_len(self) -> usize {
        match self {
            Chunking::Carried(n) => n,
            Chunking::Whole | Chunking::ZeroState(_) => 0,
        }
    }
}

impl std::fmt::Display for Chunking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chunking::Whole => write!(f, "whole pieces"),
            Chunking::ZeroState(n) => write!(f, "zero-state chunks of {n}"),
            Chunking::Carried(n) => write!(f, "carried-state chunks of {n}"),
        }
    }
}
