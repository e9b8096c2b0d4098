//! Training configuration: the single source of defaults. Every field is documented here; `experiments/*.toml`
//! set only what differs, `--set key=value` overrides single fields, and each run directory stores the resolved
//! config as `config.toml`.

use crate::cells::CellKind;
use crate::data::npz::HeadChoice;
use crate::data::text::TokenUnit;
use crate::data::{AnyData, Dataset, Preparation, Task};
use crate::device::{DeviceArg, Dtype};
use crate::model::{Head, Implementation, ModelConfig, MOG_COMPONENTS};
use crate::paper::{budget_hidden, table1_hidden};
use crate::rng::SplitMix64;
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::Device;

mod chunking;
pub use chunking::Chunking;

/// One training run: the dataset, the unit, the model and the recipe, read from an experiment's TOML file (unknown keys
/// are refused; a missing key takes the default stated on its field).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Dataset: the music sets `jsb`, `nottingham`, `musedata`, `piano` (Bernoulli-88 head, input 88), `fsdd`
    /// (raw speech: input 20 samples, a 20-component mixture of Gaussians over the next 10; see
    /// `rnnlab::data::speech` and `rnnlab::model`), `shakespeare` (characters, a softmax over the vocabulary), or
    /// data given by `data_path`: `text` (a text corpus) or `npz` (NumPy sequences); see docs/your-data.md.
    /// Default: `jsb`.
    pub dataset: Dataset,
    /// The file or directory of a `text` or `npz` dataset (relative to the working directory); must be empty for
    /// the other datasets, which live in the data directory.
    /// Default: empty.
    pub data_path: String,
    /// Text: read `chars` (UTF-8 characters) or `bytes` as tokens (`integers` is what NPZ tokens are).
    /// Default: `chars`.
    pub tokens: TokenUnit,
    /// Text and Shakespeare: each document (file, play) is cut into sequences of at most this many tokens, at the
    /// last line break within the limit; each is evaluated from a zero state. 0 keeps documents whole.
    /// Default: `2000`.
    pub text_piece: usize,
    /// Output distribution: `auto` (music: Bernoulli-88; speech: the mixture; text: categorical; npz: by dtype —
    /// bool `bernoulli`, integers one per step `categorical`, several per step `bernoulli`, floats `gaussian`), or
    /// for npz one of `bernoulli`, `gaussian`, `mixture` (20 components), `categorical`. A run records the head it
    /// took.
    /// Default: `auto`.
    pub head: HeadChoice,
    /// Width of a text or npz dataset: the vocabulary (tokens) or the features per step; 0 takes it from the data
    /// when a run starts, and the run's config.toml records it. Not used by the paper's datasets.
    /// Default: `0`.
    pub width: usize,
    /// Recurrent unit: `tanh`, `paper_gru`, `paper_lstm` (the paper's forms), `torch_gru`, `torch_lstm`, or a unit
    /// beyond the paper: `mgu` (Zhou et al. 2016), `mut1`, `mut2`, `mut3` (Jozefowicz et al. 2015), `lstm_nig`,
    /// `lstm_nfg`, `lstm_nog`, `lstm_niaf`, `lstm_noaf`, `lstm_np`, `lstm_cifg` (Greff et al. 2017); see
    /// docs/cells.md.
    /// Default: `paper_gru`.
    pub cell: CellKind,
    /// `custom` (rnnlab's cells, all members batched), `custom_member` (rnnlab's cells run member by member, for
    /// comparison with the built-ins: `rnnlab compare`), or libtorch's `builtin_seq` / `builtin_cell` kernels, which
    /// exist only for tanh, torch_gru and torch_lstm and run member by member. All four train the same maths from the
    /// same initial weights; only the cost differs.
    /// Default: `custom`.
    pub implementation: Implementation,
    /// Hidden units; 0 takes Table 1's size for the task and unit (music: tanh 100, GRU 46, LSTM 36; speech:
    /// tanh 400, GRU 227, LSTM 195), and for a unit beyond the paper the size whose paper parameter count is
    /// closest to the GRU's (`rnnlab::paper::budget_hidden`).
    /// Default: `0`.
    pub hidden: i64,
    /// Seed of initialisation, weight noise, shuffling and the learning-rate draw.
    /// Default: `2014`.
    pub seed: u64,
    /// Explicit learning rates; when empty, `lr_candidates` are drawn log-uniformly (below).
    /// Default: empty.
    pub lrs: Vec<f64>,
    /// Number of learning-rate candidates (the paper: 10).
    /// Default: `10`.
    pub lr_candidates: usize,
    /// The exponent of each candidate ~ U(lr_exp_min, lr_exp_max), base e: lr = exp(u). The paper gives
    /// U(−12, −6) without a base; base e gives lr in [6.1e-6, 2.5e-3].
    /// Default: `-12.0`.
    pub lr_exp_min: f64,
    /// Default: `-6.0`.
    pub lr_exp_max: f64,
    /// Independently initialised models per learning rate; the population holds candidates × seeds members.
    /// Default: `1`.
    pub seeds: usize,
    /// The first replicate's number: the population's replicates are `first_replica .. first_replica + seeds`.
    /// Each member's initial weights and weight noise come from a stream of its own, keyed by `seed`, its
    /// replicate and its learning rate, so a member trains the same in any population that holds it (the data
    /// order, keyed by `seed`, is shared): with `lrs = [its rate]`, `seeds = 1` and `first_replica` = its
    /// replicate, one member of a larger population trains alone exactly as it did there.
    /// Default: `0`.
    pub first_replica: usize,
    /// Sequences (or chunks) per update. The paper does not say; the authors' configs used 1.
    /// Default: `8`.
    pub batch_size: usize,
    /// Training sequences are cut into chunks of at most this many predicted frames, each starting from a zero
    /// state unless `carry_state` is set (truncated BPTT); 0 trains on whole sequences. Evaluation always uses whole
    /// sequences.
    /// Default: `50`.
    pub chunk_len: usize,
    /// Truncated BPTT with carried state: batches hold whole pieces, and each is trained in consecutive chunks of
    /// `chunk_len` frames, in order, each chunk starting from the previous chunk's final state (detached, so
    /// gradients stop at chunk boundaries). `false` (the default, as before): every chunk is a sequence of its own
    /// that starts from a zero state. Ignored when `chunk_len` is 0 (whole pieces, nothing to carry).
    /// Default: `false`.
    pub carry_state: bool,
    /// Evaluation runs whole pieces in time slices of at most this many frames, the state carried from slice to
    /// slice: the same NLL as one pass (up to float rounding), with memory bounded by the slice instead of the
    /// longest piece. 0: one pass over the whole piece. Together with `eval_batch_size` this sets the size of an
    /// evaluation's tensors (members × sequences × frames): on a CPU, a 30-member JSB population evaluated 16
    /// sequences × 50 frames at a time trained 3–11 % faster per epoch than with 64 × 100, the defaults before, and
    /// a 1- or 10-member one as fast (`results/eval-slices*.md`); on a GPU, where a run is launch-bound, larger
    /// slices (`eval_batch_size = 64`, `eval_chunk = 100` or more) take fewer launches.
    /// Default: `50`.
    pub eval_chunk: usize,
    /// Length bucketing for training batches (less padding; batches are still shuffled).
    /// Default: `true`.
    pub bucket: bool,
    /// Epoch cap.
    /// Default: `100`.
    pub max_epochs: usize,
    /// Time cap in seconds of training and evaluation (wall-clock, the run's `seconds`): no new epoch starts once
    /// it is reached. 0: no cap. A capped run depends on the machine's speed, so it is not repeatable elsewhere.
    /// Default: `0`.
    pub max_seconds: f64,
    /// Early stopping: a member stops after this many epochs without a better validation NLL.
    /// Default: `10`.
    pub patience: usize,
    /// Pruning, not in the paper and off by default (0). From this epoch on, after each evaluation, an active member
    /// is stopped as `pruned` when it could not reach its seed's best validation NLL by `max_epochs` even if it kept
    /// improving at its rate of the last `prune_window` epochs (a linear extrapolation, optimistic since learning
    /// curves flatten). A pruned member costs nothing from then on and cannot be its seed's best. It only saves
    /// time; the evidence that it leaves the chosen members unchanged is in docs/pruning.md.
    /// Default: `0`.
    pub prune_after: usize,
    /// Epochs over which a member's rate of improvement (of its best validation NLL) is measured for pruning.
    /// Default: `20`.
    pub prune_window: usize,
    /// Standard deviation of the Gaussian weight noise (Graves 2011): the loss and gradient are taken at the noisy
    /// weights, the update is applied to the clean weights. 0 disables it.
    /// Default: `0.075`.
    pub weight_noise: f64,
    /// Whether biases get weight noise too (Graves perturbs the weights; we leave biases clean by default).
    /// Default: `false`.
    pub noise_on_biases: bool,
    /// At every update, a member's gradient is rescaled to this norm when its norm is larger.
    /// Default: `1.0`.
    pub clip_norm: f64,
    /// RMSProp: decay of the mean square, floor on the RMS, and momentum (the authors' configs: 0.95, 1e-2, 0.9).
    /// Default: `0.95`.
    pub rms_decay: f64,
    /// Default: `0.01`.
    pub rms_floor: f64,
    /// Default: `0.9`.
    pub momentum: f64,
    /// Initial weights ~ U(−init_scale, init_scale); recurrent matrices orthogonal; biases zero.
    /// Default: `0.1`.
    pub init_scale: f64,
    /// The initial bias of an LSTM's forget gate (every LSTM form: `torch_lstm`, `paper_lstm` and the `lstm_*`
    /// variants but `lstm_nfg`, which has no forget gate; in `lstm_cifg`, whose forget gate is `1 − i`, the input
    /// gate's bias starts at −forget_bias). 0, the default, is the paper's initialisation (biases zero); Jozefowicz,
    /// Zaremba & Sutskever (2015) recommend 1. Not in Chung et al.; an error on a unit without a forget gate.
    /// Default: `0.0`.
    pub forget_bias: f64,
    /// Sequences per evaluation batch (see `eval_chunk` for the size to pick).
    /// Default: `16`.
    pub eval_batch_size: usize,
    /// Use only N training sequences (0: all): music takes the first N; speech takes N spread evenly over the
    /// split (every ⌊2400/N⌋-th file, so every speaker and digit stays in), since FSDD's files are sorted by digit.
    /// Default: `0`.
    pub train_subset: usize,
    /// Use only N validation and test sequences (0: all), chosen like `train_subset`.
    /// Default: `0`.
    pub eval_subset: usize,
    /// Music: take the `train_subset` / `eval_subset` pieces spread evenly over each split (every ⌊len/N⌋-th, as
    /// speech always does) instead of the first N, for a subset that samples the whole split rather than the part
    /// stored first (Nottingham's first 200 training pieces are shorter than the rest: 226 frames on average
    /// against 266). No effect on speech.
    /// Default: `false`.
    pub subset_spread: bool,
    /// `cpu`, `cuda` or `auto`.
    /// Default: `cpu`.
    pub device: DeviceArg,
    /// `f32` or `f64`.
    /// Default: `f32`.
    pub dtype: Dtype,
    /// libtorch intra-op threads for this run (small recurrent nets run best on 1; `reproduce` runs several
    /// trainings side by side instead).
    /// Default: `1`.
    pub threads: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            dataset: Dataset::Jsb,
            data_path: String::new(),
            tokens: TokenUnit::Chars,
            text_piece: crate::data::text::DEFAULT_PIECE,
            head: HeadChoice::Auto,
            width: 0,
            cell: CellKind::PaperGru,
            implementation: Implementation::Custom,
            hidden: 0,
            seed: 2014,
            lrs: vec![],
            lr_candidates: 10,
            lr_exp_min: -12.0,
            lr_exp_max: -6.0,
            seeds: 1,
            first_replica: 0,
            batch_size: 8,
            chunk_len: 50,
            carry_state: false,
            eval_chunk: 50,
            bucket: true,
            max_epochs: 100,
            max_seconds: 0.0,
            patience: 10,
            prune_after: 0,
            prune_window: 20,
            weight_noise: 0.075,
            noise_on_biases: false,
            clip_norm: 1.0,
            rms_decay: 0.95,
            rms_floor: 1e-2,
            momentum: 0.9,
            init_scale: 0.1,
            forget_bias: 0.0,
            eval_batch_size: 16,
            train_subset: 0,
            eval_subset: 0,
            subset_spread: false,
            device: DeviceArg::Cpu,
            dtype: Dtype::F32,
            threads: 1,
        }
    }
}

impl TrainConfig {
    /// Reads a TOML config; unknown keys and bad values are errors naming the file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let cfg: TrainConfig = toml::from_str(&text)
            .with_context(|| format!("config {} is not valid", path.display()))?;
        cfg.check()
            .with_context(|| format!("config {}", path.display()))?;
        Ok(cfg)
    }

    /// Applies `key=value` overrides; the value is TOML (`lr_candidates=3`, `cell="paper_lstm"`, `lrs=[1e-3]`;
    /// a bare word is taken as a string).
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Self> {
        let mut table = toml::Table::try_from(self).context("serialising the config")?;
        for item in overrides {
            let (key, raw) = item
                .split_once('=')
                .with_context(|| format!("--set '{item}': expected key=value"))?;
            let key = key.trim();
            ensure!(
                table.contains_key(key),
                "--set {key}: no such config key (see `rnnlab train --help` or src/config/mod.rs)"
            );
            let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
                Ok(mut t) => t.remove("v").expect("parsed a table with key v"),
                Err(_) => toml::Value::String(raw.trim().to_string()),
            };
            table.insert(key.to_string(), value);
        }
        let cfg: TrainConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| anyhow::anyhow!("--set: {}", e.message()))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Rejects values that cannot run, naming the key.
    pub fn check(&self) -> Result<()> {
        ensure!(
            self.hidden >= 0,
            "hidden = {}: must be positive (or 0 for Table 1's size)",
            self.hidden
        );
        ensure!(
            !self.lrs.is_empty() || self.lr_candidates >= 1,
            "lr_candidates must be at least 1 when lrs is empty"
        );
        for &lr in &self.lrs {
            ensure!(
                lr.is_finite() && lr > 0.0,
                "lrs: {lr} is not a positive learning rate"
            );
        }
        ensure!(
            self.lr_exp_min <= self.lr_exp_max,
            "lr_exp_min must not exceed lr_exp_max"
        );
        ensure!(self.seeds >= 1, "seeds must be at least 1");
        ensure!(self.batch_size >= 1, "batch_size must be at least 1");
        ensure!(
            self.eval_batch_size >= 1,
            "eval_batch_size must be at least 1"
        );
        ensure!(self.max_epochs >= 1, "max_epochs must be at least 1");
        ensure!(
            self.max_seconds.is_finite() && self.max_seconds >= 0.0,
            "max_seconds must be 0 (no cap) or a positive number of seconds"
        );
        ensure!(self.patience >= 1, "patience must be at least 1");
        if self.prune_after > 0 {
            ensure!(
                self.prune_window >= 1,
                "prune_window must be at least 1 when prune_after is set"
            );
            ensure!(
                self.prune_after > self.prune_window,
                "prune_after ({}) must be larger than prune_window ({}): the rate of improvement needs \
                 prune_window epochs of history",
                self.prune_after,
                self.prune_window
            );
        }
        ensure!(
            self.weight_noise >= 0.0,
            "weight_noise must not be negative"
        );
        ensure!(self.clip_norm > 0.0, "clip_norm must be positive");
        ensure!(
            (0.0..1.0).contains(&self.rms_decay),
            "rms_decay must be in [0, 1)"
        );
        ensure!(self.rms_floor > 0.0, "rms_floor must be positive");
        ensure!(
            (0.0..1.0).contains(&self.momentum),
            "momentum must be in [0, 1)"
        );
        ensure!(self.init_scale > 0.0, "init_scale must be positive");
        ensure!(
            self.forget_bias.is_finite(),
            "forget_bias must be a finite number"
        );
        ensure!(
            self.forget_bias == 0.0 || self.cell.has_forget_gate(),
            "forget_bias = {} needs a unit with an LSTM forget gate; {} has none",
            self.forget_bias,
            self.cell
        );
        ensure!(self.threads >= 1, "threads must be at least 1");
        match self.dataset.task() {
            Task::Music | Task::Speech => {
                ensure!(
                    self.data_path.is_empty(),
                    "data_path is for dataset = \"text\" or \"npz\"; {} lives in the data directory",
                    self.dataset
                );
                ensure!(
                    self.head == HeadChoice::Auto,
                    "head = \"{}\": {}'s head is fixed (keep head = \"auto\")",
                    self.head,
                    self.dataset
                );
            }
            Task::Tokens => ensure!(
                matches!(self.head, HeadChoice::Auto | HeadChoice::Categorical),
                "head = \"{}\": a text is modelled by a softmax over its tokens (head = \"auto\" or \"categorical\")",
                self.head
            ),
            Task::Arrays => {}
        }
        if self.dataset.by_path() {
            ensure!(
                !self.data_path.is_empty(),
                "dataset = \"{}\" needs data_path, the file or directory of the data (e.g. --set data_path=corpus.txt)",
                self.dataset
            );
        }
        ensure!(
            self.tokens != TokenUnit::Integers || self.dataset == Dataset::Npz,
            "tokens = \"integers\" is what NPZ tokens are; a text is read as \"chars\" or \"bytes\""
        );
        if !self.implementation.supports(self.cell) {
            bail!(
                "implementation = '{}' needs cell = tanh, torch_gru or torch_lstm (libtorch has no {})",
                self.implementation,
                self.cell
            );
        }
        Ok(())
    }

    /// Whether `self` and `other` are the same config but for `prune_after` and `prune_window`.
    pub fn differs_only_in_pruning(&self, other: &TrainConfig) -> bool {
        let mut a = self.clone();
        a.prune_after = other.prune_after;
        a.prune_window = other.prune_window;
        a == *other && self != other
    }

    /// The first epoch after which pruning acts, or `None` when it is off.
    pub fn pruning_from(&self) -> Option<usize> {
        (self.prune_after > 0).then_some(self.prune_after)
    }

    /// The hidden size: `hidden`, or when 0 Table 1's size (music, speech); for a dataset whose width comes from
    /// the data, the size whose paper parameter count at that input width is closest to the music GRU's (Table 1:
    /// 46 units, 18,630 parameters). A unit beyond the paper is sized to the GRU's parameter count.
    pub fn hidden_size(&self) -> i64 {
        if self.hidden > 0 {
            return self.hidden;
        }
        match self.dataset.task() {
            Task::Music | Task::Speech => table1_hidden(self.dataset.task(), self.cell),
            Task::Tokens | Task::Arrays => budget_hidden(
                self.cell,
                self.input_width(),
                crate::cells::CellKind::PaperGru.paper_param_count(88, 46),
            ),
        }
    }

    /// Width of each input step: 88 (music), 20 (speech), else `width` (the vocabulary or the features).
    fn input_width(&self) -> i64 {
        match Head::for_task(self.dataset.task()) {
            Some((_, input)) => input,
            None => self.width.max(1) as i64,
        }
    }

    /// The model's output distribution and input width: fixed for the paper's datasets; for text and npz from
    /// `head` and `width`, which [`TrainConfig::resolve_data`] fills in from the data.
    pub fn head_and_input(&self) -> Result<(Head, i64)> {
        if let Some(fixed) = Head::for_task(self.dataset.task()) {
            return Ok(fixed);
        }
        ensure!(
            self.width > 0,
            "width is 0: the {} data's width is taken when the run starts (TrainConfig::resolve_data)",
            self.dataset
        );
        let w = self.width as i64;
        Ok(match (self.dataset.task(), self.head) {
            (Task::Tokens, _) | (_, HeadChoice::Categorical) => (Head::Categorical { vocab: w }, w),
            (_, HeadChoice::Bernoulli) => (Head::Bernoulli { keys: w }, w),
            (_, HeadChoice::Gaussian) => (Head::Mog { components: 1, dim: w }, w),
            (_, HeadChoice::Mixture) => (
                Head::Mog {
                    components: MOG_COMPONENTS,
                    dim: w,
                },
                w,
            ),
            (_, HeadChoice::Auto) => bail!(
                "head is \"auto\": the npz data's head is decided when the run starts (TrainConfig::resolve_data)"
            ),
        })
    }

    /// What one token is when the model's NLL is of tokens (a categorical head): `character` (Shakespeare, text
    /// read as chars), `byte`, or `token` (integer NPZ); `None` for frame-wise heads (nats per frame).
    pub fn token_name(&self) -> Option<&'static str> {
        match (self.dataset, self.dataset.task(), self.head) {
            (Dataset::Shakespeare, _, _) => Some("character"),
            (_, Task::Tokens, _) => Some(self.tokens.singular()),
            (_, Task::Arrays, HeadChoice::Categorical) => Some("token"),
            _ => None,
        }
    }

    /// Fills in `width` (and for npz the head the data decided) from loaded data; an error when the config already
    /// names another width or head (a resumed run on changed data).
    pub fn resolve_data(&mut self, data: &AnyData) -> Result<()> {
        let Some((head, width)) = data.shape() else {
            return Ok(());
        };
        ensure!(
            self.width == 0 || self.width == width,
            "width = {} but the data has {width} ({}); the data changed since the run started, or width is wrong",
            self.width,
            if head == HeadChoice::Categorical {
                "tokens in the vocabulary"
            } else {
                "features per step"
            }
        );
        ensure!(
            self.head == HeadChoice::Auto || self.head == head,
            "head = \"{}\" but the data gives \"{head}\"",
            self.head
        );
        self.width = width;
        if self.dataset.task() == Task::Arrays {
            self.head = head;
        }
        Ok(())
    }

    /// The learning rate of each candidate, drawn from the seed (or `lrs` as given).
    pub fn learning_rates(&self) -> Vec<f64> {
        if !self.lrs.is_empty() {
            return self.lrs.clone();
        }
        let mut rng = SplitMix64::new(self.seed ^ 0x5eed_1ea2_4a7e);
        (0..self.lr_candidates)
            .map(|_| {
                let u = rng.uniform01();
                (self.lr_exp_min + u * (self.lr_exp_max - self.lr_exp_min)).exp()
            })
            .collect()
    }

    /// How the data is cut and batched for training.
    pub fn preparation(&self) -> Preparation {
        Preparation {
            batch_size: self.batch_size,
            eval_batch_size: self.eval_batch_size,
            bucket: self.bucket,
            seed: self.seed,
            chunk_len: self.chunking().prepared_len(),
            train_subset: self.train_subset,
            eval_subset: self.eval_subset,
            subset_spread: self.subset_spread,
            kind: self.dtype.kind(),
        }
    }

    /// How training cuts the pieces, from `chunk_len` and `carry_state`: the one place that reads the two keys
    /// together.
    pub fn chunking(&self) -> Chunking {
        match (self.chunk_len, self.carry_state) {
            (0, _) => Chunking::Whole,
            (n, false) => Chunking::ZeroState(n),
            (n, true) => Chunking::Carried(n),
        }
    }

    /// Whether training carries the state from chunk to chunk (truncated BPTT over whole pieces).
    pub fn carries_state(&self) -> bool {
        matches!(self.chunking(), Chunking::Carried(_))
    }

    /// The models this config trains (a population of candidates × seeds), on `device`.
    pub fn model_config(&self, device: Device) -> Result<ModelConfig> {
        let (head, input) = self.head_and_input()?;
        Ok(ModelConfig {
            head,
            input,
            cell: self.cell,
            implementation: self.implementation,
            hidden: self.hidden_size(),
            population: self.member_lrs().len() as i64,
            init_scale: self.init_scale,
            forget_bias: self.forget_bias,
            kind: self.dtype.kind(),
            device,
        })
    }

    /// The seed of each member's own random stream (initial weights, weight noise), in member order: keyed by
    /// `seed`, the member's replicate (`first_replica` + its place among the seeds) and the bits of its learning rate.
    pub fn member_seeds(&self) -> Vec<u64> {
        self.member_lrs()
            .iter()
            .enumerate()
            .map(|(m, lr)| {
                let replica = (self.first_replica + m % self.seeds.max(1)) as u64;
                let mut s = SplitMix64::new(
                    self.seed
                        ^ replica.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                        ^ lr.to_bits().rotate_left(29),
                );
                s.next_u64()
            })
            .collect()
    }

    /// The learning rate of every population member (candidates × seeds, candidate-major).
    pub fn member_lrs(&self) -> Vec<f64> {
        self.learning_rates()
            .into_iter()
            .flat_map(|lr| std::iter::repeat_n(lr, self.seeds))
            .collect()
    }

    /// The config as TOML (what a run directory's `config.toml` holds).
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `hidden = 0` on a dataset whose width comes from the data sizes every unit at the music GRU's paper budget
    /// (18,630) for that input width: each unit's count is the closest to the budget its sizes allow.
    #[test]
    fn data_shaped_hidden_sizes_match_the_gru_budget() {
        let budget = CellKind::PaperGru.paper_param_count(88, 46);
        assert_eq!(budget, 18_630);
        for cell in [
            CellKind::Tanh,
            CellKind::PaperGru,
            CellKind::PaperLstm,
            CellKind::Mut1,
            CellKind::Mut3,
            CellKind::LstmNoaf,
        ] {
            let cfg = TrainConfig {
                dataset: Dataset::Shakespeare,
                cell,
                width: 81,
                ..Default::default()
            };
            let h = cfg.hidden_size();
            let count = |n: i64| cell.paper_param_count(81, n);
            let off = (count(h) - budget).abs();
            assert!(off <= (count(h + 1) - budget).abs() && off <= (count(h - 1) - budget).abs());
            eprintln!("{cell}: hidden {h}, {} paper parameters", count(h));
        }
        // Without a width (before the data is read) the head is unknown: an error, not a guess.
        let cfg = TrainConfig {
            dataset: Dataset::Text,
            data_path: "x.txt".into(),
            ..Default::default()
        };
        assert!(cfg.head_and_input().is_err());
        assert!(cfg.check().is_ok());
        let no_path = TrainConfig {
            dataset: Dataset::Npz,
            ..Default::default()
        };
        assert!(no_path
            .check()
            .unwrap_err()
            .to_string()
            .contains("data_path"));
    }
}
