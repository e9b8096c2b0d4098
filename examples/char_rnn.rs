/* tch-rs's char-rnn example (examples/char-rnn/main.rs in tch-rs), with its LSTM replaced by any rnnlab unit chosen
   by name: the constructor line and the argument parsing are what differ (docs/library.md shows the diff).

   It uses the tinyshakespeare dataset of Karpathy's char-rnn (any text file works):
     cargo run --release --example char_rnn -- --cell paper_gru --data data/input.txt

   It has been heavily inspired by https://github.com/karpathy/char-rnn
*/

use anyhow::Result;
use rnnlab::nn::Rnn;
use tch::data::TextData;
use tch::nn::{Linear, Module, OptimizerConfig, RNN};
use tch::{nn, Device, Kind, Tensor};

const LEARNING_RATE: f64 = 0.01;
const HIDDEN_SIZE: i64 = 256;
const SEQ_LEN: i64 = 180;
const BATCH_SIZE: i64 = 256;
const EPOCHS: i64 = 100;
const SAMPLING_LEN: i64 = 1024;

/// Generates some sample string using the RNN + Linear model.
fn sample(data: &TextData, rnn: &Rnn, linear: &Linear, device: Device, len: i64) -> String {
    let labels = data.labels();
    let mut state = rnn.zero_state(1);
    let mut last_label = 0i64;
    let mut result = String::new();
    for _index in 0..len {
        let input = Tensor::zeros([1, labels], (Kind::Float, device));
        let _ = input.narrow(1, last_label, 1).fill_(1.0);
        state = rnn.step(&input, &state);
        let sampled_y = linear
            .forward(&state.h())
            .squeeze_dim(0)
            .softmax(-1, Kind::Float)
            .multinomial(1, false);
        last_label = i64::try_from(sampled_y).unwrap();
        result.push(data.label_to_char(last_label))
    }
    result
}

pub fn main() -> Result<()> {
    let args = Args::parse()?;
    let device = Device::cuda_if_available();
    let vs = nn::VarStore::new(device);
    let data = TextData::new(&args.data)?;
    let labels = data.labels();
    println!("Dataset loaded, {labels} labels.");
    let rnn = rnnlab::nn::rnn(
        vs.root(),
        args.cell,
        labels,
        args.hidden,
        Default::default(),
    )?;
    let linear = nn::linear(vs.root(), args.hidden, labels, Default::default());
    let mut opt = nn::Adam::default().build(&vs, LEARNING_RATE)?;
    for epoch in 1..(1 + args.epochs) {
        let mut sum_loss = 0.;
        let mut cnt_loss = 0.;
        for batch in data
            .iter_shuffle(args.seq_len + 1, args.batch_size)
            .take(args.steps)
        {
            let xs_onehot = batch.narrow(1, 0, args.seq_len).onehot(labels);
            let ys = batch.narrow(1, 1, args.seq_len).to_kind(Kind::Int64);
            let (lstm_out, _) = rnn.seq(&xs_onehot.to_device(device));
            let logits = linear.forward(&lstm_out);
            let loss = logits
                .view([args.batch_size * args.seq_len, labels])
                .cross_entropy_for_logits(
                    &ys.to_device(device).view([args.batch_size * args.seq_len]),
                );
            opt.backward_step_clip(&loss, 0.5);
            sum_loss += f64::try_from(loss)?;
            cnt_loss += 1.0;
        }
        println!("Epoch: {}   loss: {:5.3}", epoch, sum_loss / cnt_loss);
        println!(
            "Sample: {}",
            sample(&data, &rnn, &linear, device, args.sample_len)
        );
    }
    Ok(())
}

/// The example's settings: tch-rs's constants, each overridable by a flag.
struct Args {
    cell: rnnlab::CellKind,
    data: String,
    hidden: i64,
    seq_len: i64,
    batch_size: i64,
    epochs: i64,
    /// Batches per epoch at most (all of them by default).
    steps: usize,
    sample_len: i64,
}

impl Args {
    const USAGE: &'static str = "usage: char_rnn [--cell NAME] [--data FILE] [--hidden N] [--seq-len N] \
        [--batch-size N] [--epochs N] [--steps N] [--sample-len N]\n\
        defaults: --cell paper_lstm --data data/input.txt --hidden 256 --seq-len 180 --batch-size 256 \
        --epochs 100, every batch, --sample-len 1024; NAME is any unit of rnnlab (rnnlab::CellKind::ALL)";

    fn parse() -> Result<Args> {
        let mut a = Args {
            cell: rnnlab::CellKind::PaperLstm,
            data: "data/input.txt".into(),
            hidden: HIDDEN_SIZE,
            seq_len: SEQ_LEN,
            batch_size: BATCH_SIZE,
            epochs: EPOCHS,
            steps: usize::MAX,
            sample_len: SAMPLING_LEN,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "-h" || flag == "--help" {
                println!("{}", Self::USAGE);
                std::process::exit(0);
            }
            let value = it
                .next()
                .ok_or_else(|| anyhow::anyhow!("{flag} needs a value\n{}", Self::USAGE))?;
            let number = || -> Result<i64> {
                match value.parse::<i64>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => anyhow::bail!("{flag} takes a positive integer, not '{value}'"),
                }
            };
            match flag.as_str() {
                "--cell" => a.cell = value.parse()?,
                "--data" => a.data = value.clone(),
                "--hidden" => a.hidden = number()?,
                "--seq-len" => a.seq_len = number()?,
                "--batch-size" => a.batch_size = number()?,
                "--epochs" => a.epochs = number()?,
                "--steps" => a.steps = number()? as usize,
                "--sample-len" => a.sample_len = number()?,
                _ => anyhow::bail!("unknown flag {flag}\n{}", Self::USAGE),
            }
        }
        Ok(a)
    }
}
