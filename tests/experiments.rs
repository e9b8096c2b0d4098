//! The shipped experiment configs: every TOML of `experiments/` (the quick profile) and `experiments/paper-scale/`
//! parses and passes the config checks, and the paper-scale profile holds the same 12 music experiments as the
//! quick one (same dataset, cell, size and recipe) with at least 3 seeds, a cap at least as high and the same or
//! more patience.

use rnnlab::config::TrainConfig;
use std::path::{Path, PathBuf};

fn configs(dir: &Path) -> Vec<(String, TrainConfig)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let cfg = TrainConfig::from_file(p).unwrap_or_else(|e| panic!("{e:#}"));
            (p.file_name().unwrap().to_string_lossy().into_owned(), cfg)
        })
        .collect()
}

#[test]
fn every_shipped_config_parses_and_the_paper_scale_profile_mirrors_the_quick_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let quick = configs(&root);
    assert_eq!(
        quick.len(),
        15,
        "experiments/: 4 music sets and fsdd, 3 units each"
    );
    let paper = configs(&root.join("paper-scale"));
    assert_eq!(
        paper.len(),
        12,
        "experiments/paper-scale/: the 12 music cells"
    );
    for (name, p) in &paper {
        let (_, q) = quick
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("paper-scale/{name} has no quick-profile twin"));
        assert_eq!(
            (p.dataset, p.cell, p.hidden_size()),
            (q.dataset, q.cell, q.hidden_size()),
            "{name}"
        );
        assert_eq!(
            (
                p.batch_size,
                p.chunk_len,
                p.carry_state,
                p.weight_noise,
                p.clip_norm
            ),
            (
                q.batch_size,
                q.chunk_len,
                q.carry_state,
                q.weight_noise,
                q.clip_norm
            ),
            "{name}: the recipe differs from the quick profile's"
        );
        assert_eq!(p.learning_rates(), q.learning_rates(), "{name}");
        assert!(p.seeds >= 3, "{name}: {} seeds", p.seeds);
        assert!(
            p.max_epochs >= q.max_epochs && p.patience >= q.patience,
            "{name}"
        );
    }
}

/// The long-context study's three configs are the paper-scale Nottingham GRU with only the chunking changed.
#[test]
fn long_context_configs_differ_from_the_paper_scale_gru_only_in_chunking() {
    use rnnlab::config::Chunking;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let base = TrainConfig::from_file(&root.join("paper-scale/nottingham_gru.toml")).unwrap();
    let study = configs(&root.join("long-context"));
    let chunkings: Vec<Chunking> = study.iter().map(|(_, c)| c.chunking()).collect();
    assert_eq!(
        chunkings,
        [
            Chunking::Carried(100),
            Chunking::Whole,
            Chunking::ZeroState(50)
        ]
    );
    for (name, cfg) in &study {
        let same = TrainConfig {
            chunk_len: base.chunk_len,
            carry_state: base.carry_state,
            ..cfg.clone()
        };
        assert_eq!(
            same, base,
            "{name} differs from the paper-scale GRU in more than its chunking"
        );
    }
}

/// The planned Shakespeare comparison: one config per unit, every unit at the music GRU's parameter budget for the
/// data's 81 inputs (`hidden = 0`), the same recipe, learning-rate range and seeds.
#[test]
fn shakespeare_configs_share_one_budget_and_recipe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/shakespeare");
    let all = configs(&root);
    assert_eq!(all.len(), 6, "tanh, GRU, LSTM and three units of the zoo");
    let budget = rnnlab::cells::CellKind::PaperGru.paper_param_count(88, 46) as f64;
    let (_, first) = &all[0];
    for (name, c) in &all {
        assert_eq!(c.dataset, rnnlab::data::Dataset::Shakespeare, "{name}");
        assert_eq!((c.hidden, c.seeds), (0, 3), "{name}");
        let mut c = c.clone();
        c.width = 81;
        let count = c.cell.paper_param_count(81, c.hidden_size()) as f64;
        assert!(
            (count / budget - 1.0).abs() < 0.03,
            "{name}: {count} parameters"
        );
        assert_eq!(
            (
                c.learning_rates(),
                c.batch_size,
                c.chunk_len,
                c.weight_noise,
                c.max_epochs
            ),
            (
                first.learning_rates(),
                first.batch_size,
                first.chunk_len,
                first.weight_noise,
                first.max_epochs
            ),
            "{name}"
        );
    }
}
