//! The `rnnlab` command line: parses arguments and calls the library.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use rnnlab::device::{cuda_unavailable_reason, DeviceArg, Dtype};
use rnnlab::validate;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rnnlab",
    version,
    about = "Custom tanh-RNN, GRU and LSTM cells on libtorch, checked against PyTorch; reproduces Chung et al. 2014",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prove the custom cells equal to PyTorch: against libtorch's built-ins on random shapes, against golden
    /// PyTorch/NumPy fixtures, and against finite differences. Exits non-zero if any check fails.
    Validate(ValidateArgs),
    /// The music datasets: `fetch` downloads them with pinned checksums, `verify` checks the files present,
    /// `stats` reads and validates them and prints split statistics.
    Data(rnnlab::data::DataArgs),
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// Where to run: `auto` also runs every check on CUDA when a GPU is visible.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
    /// Precision of the built-in and fixture comparisons (finite differences always run in f64). Default: both.
    #[arg(long, value_enum)]
    dtype: Option<Dtype>,
    /// Random shapes per cell, built-in and dtype (the first two are the smallest and largest shapes).
    #[arg(long, default_value_t = 12)]
    cases: usize,
    /// Seed for shapes, weights and inputs.
    #[arg(long, default_value_t = 2014)]
    seed: u64,
    /// Print one JSON object `{"results": [...], ...}` instead of the table.
    #[arg(long)]
    json: bool,
}

fn validate_cmd(args: ValidateArgs) -> Result<bool> {
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
            "libtorch": "2.13.0",
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate_cmd(args),
        Command::Data(args) => rnnlab::data::cli::run(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
