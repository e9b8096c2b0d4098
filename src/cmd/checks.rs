//! The commands that check and time the cells: `bench`, `validate`.

use anyhow::{bail, Context, Result};
use rnnlab::bench::{self, Tier};
use rnnlab::cells::CellKind;
use rnnlab::device::{cuda_unavailable_reason, DeviceArg, Dtype};
use rnnlab::validate;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ShapeSet {
    /// Input 88; hidden 36/46/100 (LSTM/GRU/tanh); batch 1/8/32; sequence 60/250/500.
    Paper,
    /// Sequence 100, batch 64, input 512, hidden 512 (PyTorch benchmarks/fastrnns).
    Fastrnns,
    /// Two small shapes (what --quick uses).
    Quick,
}

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// Where to run: `auto` takes CUDA when libtorch sees a GPU.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub(crate) device: DeviceArg,
    /// A short run for CI: two small shapes, one warm-up, five timed runs (finishes in seconds on 2 cores).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Shape families (default: paper,fastrnns; with --quick: quick).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub(crate) shapes: Vec<ShapeSet>,
    /// Cells to time (default: all five; tiers 3–5 apply to tanh, torch_gru and torch_lstm only).
    #[arg(long, value_delimiter = ',')]
    pub(crate) cells: Vec<CellKind>,
    /// Tiers to time (default: all; cudnn runs on CUDA only).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub(crate) tiers: Vec<Tier>,
    /// Models per op in the population tier (times are reported per model).
    #[arg(long, default_value_t = 8)]
    pub(crate) population: i64,
    /// Untimed runs per case (default 3; 1 with --quick).
    #[arg(long)]
    pub(crate) warmup: Option<usize>,
    /// Timed runs per case, at least (default 10; 5 with --quick).
    #[arg(long)]
    pub(crate) reps: Option<usize>,
    /// Keep timing each case for at least this many seconds (default 0.5; 0 with --quick).
    #[arg(long)]
    pub(crate) min_time: Option<f64>,
    /// libtorch intra-op threads (default: libtorch's choice, one per core).
    #[arg(long)]
    pub(crate) threads: Option<i32>,
    /// Turn off libtorch's oneDNN paths for the run. On CPU, at::lstm (tier 4 of the LSTMs) then runs the same
    /// per-step matmul and pointwise ops as at::gru and at::rnn_tanh instead of oneDNN's fused LSTM layer.
    #[arg(long)]
    pub(crate) no_onednn: bool,
    /// Seed for weights and inputs.
    #[arg(long, default_value_t = 2014)]
    pub(crate) seed: u64,
    /// Write the report (meta + one row per tier × shape × direction) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    /// Draw the chart (time per step of each tier vs shape) as a PNG here.
    #[arg(long, value_name = "FILE")]
    pub(crate) png: Option<PathBuf>,
    /// Write the report's tables as Markdown here (per shape set: summary of ratios, then every tier per shape;
    /// with --compare, rnnlab ÷ PyTorch per tier): the tables docs/benchmarks.md quotes.
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<PathBuf>,
    /// Do not run: read a report written earlier by --json, then print, chart or compare it.
    #[arg(long, value_name = "FILE")]
    pub(crate) load: Option<PathBuf>,
    /// Also print rnnlab vs PyTorch from this JSON of scripts/bench_pytorch.py (same machine, same shapes).
    #[arg(long, value_name = "FILE")]
    pub(crate) compare: Option<PathBuf>,
}

pub(crate) fn bench_cmd(args: BenchArgs) -> Result<bool> {
    let report = match &args.load {
        Some(path) => bench::Report::read(path)?,
        None => {
            if let Some(n) = args.threads {
                if n < 1 {
                    bail!("--threads must be at least 1, got {n}");
                }
                tch::set_num_threads(n);
            }
            let base = if args.quick {
                bench::Options::quick()
            } else {
                bench::Options::default()
            };
            let mut shapes = vec![];
            for set in &args.shapes {
                shapes.extend(match set {
                    ShapeSet::Paper => bench::paper_shapes(),
                    ShapeSet::Fastrnns => bench::fastrnns_shapes(),
                    ShapeSet::Quick => bench::quick_shapes(),
                });
            }
            let overrides = bench::Overrides {
                cells: args.cells.clone(),
                tiers: args.tiers.clone(),
                shapes,
                warmup: args.warmup,
                reps: args.reps,
                min_time_s: args.min_time,
            };
            let opts = bench::Options {
                device: args.device.resolve()?,
                population: args.population,
                seed: args.seed,
                onednn: !args.no_onednn,
                ..base.with_overrides(&overrides)
            };
            bench::run(&opts, |r| {
                eprintln!(
                    "{:<11} {} {:<13} {:<24} {:<17} {:>10.3} ms",
                    r.cell,
                    r.tier,
                    r.tier_name.name(),
                    r.shape.label(),
                    r.direction.name(),
                    r.median_ms
                )
            })?
        }
    };
    print!("{}", bench::format_table(&report));
    if let Some(path) = &args.json {
        report.write(path)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.png {
        rnnlab::report::plot_bench(&report, path)?;
        println!("wrote {}", path.display());
    }
    let pytorch = args
        .compare
        .as_ref()
        .map(|path| bench::Report::read(path))
        .transpose()?;
    if let Some(pytorch) = &pytorch {
        println!();
        print!("{}", bench::format_compare(&report, pytorch));
    }
    if let Some(path) = &args.markdown {
        let text = bench::markdown(&report, pytorch.as_ref());
        rnnlab::atomic::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(true)
}

#[derive(clap::Args)]
pub(crate) struct ValidateArgs {
    /// Where to run: `auto` also runs every check on CUDA when a GPU is visible.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub(crate) device: DeviceArg,
    /// Precision of the built-in and fixture comparisons (finite differences always run in f64). Default: both.
    #[arg(long, value_enum)]
    pub(crate) dtype: Option<Dtype>,
    /// Random shapes per cell, built-in and dtype (the first two are the smallest and largest shapes).
    #[arg(long, default_value_t = 12)]
    pub(crate) cases: usize,
    /// Seed for shapes, weights and inputs.
    #[arg(long, default_value_t = 2014)]
    pub(crate) seed: u64,
    /// Print one JSON object `{"results": [...], ...}` instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn validate_cmd(args: ValidateArgs) -> Result<bool> {
    let mut devices = vec![];
    let mut cuda_note = None;
    match args.device {
        DeviceArg::Cpu => devices.push(tch::Device::Cpu),
        DeviceArg::Cuda => devices.push(DeviceArg::Cuda.resolve()?),
        DeviceArg::Auto => {
            devices.push(tch::Device::Cpu);
            if tch::Cuda::is_available() {
                devices.push(tch::Device::Cuda(0));
            } else {
                cuda_note = Some(format!(
                    "CUDA checks skipped: {}",
                    cuda_unavailable_reason()
                ));
            }
        }
    }
    if args.cases < 2 {
        bail!(
            "--cases must be at least 2 (the smallest and the largest shape), got {}",
            args.cases
        );
    }
    let dtypes = match args.dtype {
        Some(d) => vec![d],
        None => vec![Dtype::F32, Dtype::F64],
    };
    let mut rows = vec![];
    for device in devices {
        let opts = validate::Options {
            device,
            dtypes: dtypes.clone(),
            random_cases: args.cases,
            seed: args.seed,
        };
        rows.extend(validate::run(&opts, |_| {})?);
    }
    let pass = rows.iter().all(|r| r.pass);
    if args.json {
        let out = serde_json::json!({
            "results": rows,
            "pass": pass,
            "cuda_skipped": cuda_note,
            "libtorch": rnnlab::device::libtorch_version(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", validate::format_table(&rows));
        if let Some(note) = cuda_note {
            println!("{note}");
        }
        let failed = rows.iter().filter(|r| !r.pass).count();
        println!(
            "{} checks, {} failed: {}",
            rows.len(),
            failed,
            if pass { "all pass" } else { "FAILURES above" }
        );
    }
    Ok(pass)
}
