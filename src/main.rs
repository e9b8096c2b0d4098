//! The `rnnlab` command line: parses arguments and calls the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod cmd;
use cmd::*;

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
    /// Time forward and forward+backward of every implementation of each unit, in tiers from a naive Rust loop to
    /// cuDNN (see `rnnlab::bench`): a table on screen, optionally JSON (`--json`), a chart (`--png`), and a table
    /// against PyTorch (`--compare` a JSON from scripts/bench_pytorch.py).
    Bench(Box<BenchArgs>),
    /// Train one experiment (a population of learning-rate candidates × seeds) into a run directory.
    Train(TrainArgs),
    /// Reproduce Table 2: every dataset × unit of experiments/ for a task (music, or speech on FSDD), side by side,
    /// then the table (Markdown, CSV, JSON) beside the paper's numbers.
    Reproduce(Box<ReproduceArgs>),
    /// Draw the paper's figures as PNG from run directories and/or `rnnlab reproduce` outputs: learning curves per
    /// dataset, Fig. 2 (Nottingham and MuseData), Table 2 at a glance, and the learning-rate search.
    Plot(PlotArgs),
    /// Train job N of a sweep's plan (what each local worker and Slurm array task runs): resumes its run directory
    /// from its checkpoint, starts it otherwise, does nothing if it has finished.
    #[command(hide = true)]
    SweepTask(SweepTaskArgs),
    /// Train one experiment with the custom cells (member by member, and as one batched population) and with
    /// libtorch's built-ins (builtin_seq, builtin_cell), from the same weights, noise and batches; check that they
    /// agree (exit 1 when a difference exceeds the tolerance) and draw NLL against epochs and wall-clock.
    Compare(CompareArgs),
    /// Sample a trained run (its best member's best weights), seeded: a speech run gives an 8 kHz 16-bit WAV; a
    /// music run a Standard MIDI File and, beside it, a piano-roll PNG of the sample next to a real test piece.
    Sample(SampleArgs),
    /// The metric's variants of trained music runs at their chosen weights, without weight noise: Table 2's
    /// frame-weighted NLL, the sequence-weighted NLL, the NLL with each piece's first frame predicted, the clean
    /// train NLL, and the NLL by position in the piece with the state carried and reset (see `rnnlab::eval`).
    /// Writes eval.json into each run directory.
    Eval(EvalArgs),
    /// A run directory (or a `reproduce` output) at a glance: what it is, its state, best member, epochs, time and
    /// where its figures and TensorBoard file are.
    Show {
        /// A run directory, a reproduce output (holding runs/), or a directory of run directories.
        path: PathBuf,
    },
}

/// Keeps freed memory in the process for the next allocation of its size. libtorch allocates through malloc, and
/// glibc serves blocks above its mmap threshold (at most 32 MiB) with fresh mappings that it returns at every free:
/// an evaluation slice of a large population then costs page faults and zeroing on every batch (about a quarter of
/// a 30-member JSB population's evaluation time). With mappings off and the heap's top not trimmed, a freed block
/// is reused as it is. The process's resident memory stays at its peak, which training reaches anyway. A library
/// user decides this for their own program: this is the command line's choice.
fn keep_freed_memory() {
    // SAFETY: mallopt only changes glibc's allocation parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate_cmd(args),
        Command::Data(args) => rnnlab::data::cli::run(args),
        Command::Bench(args) => bench_cmd(*args),
        Command::Train(args) => train_cmd(args),
        Command::Reproduce(args) => reproduce_cmd(*args),
        Command::Plot(args) => plot_cmd(args),
        Command::Sample(args) => sample_cmd(args),
        Command::Eval(args) => eval_cmd(args),
        Command::SweepTask(args) => rnnlab::sweep::run_task(&args.plan, args.index).map(|_| true),
        Command::Show { path } => rnnlab::report::show::show(&path).map(|text| {
            print!("{text}");
            true
        }),
        Command::Compare(args) => compare_cmd(args),
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
