//! The library face: rnnlab's units as tch-rs modules on a VarStore (`rnnlab::nn`).
//!
//! - the torch forms equal tch's own `nn::gru` / `nn::lstm` (and libtorch's `rnn_tanh`, which tch does not wrap as
//!   a layer) given the same weights, copied by name: 1 and 2 layers, one and two directions, batch-first and
//!   time-major, f64, to 1e-12;
//! - a PyTorch `state_dict` (tests/fixtures/torch_rnn.safetensors, `scripts/make_fixtures.py --state-dicts`) loads by
//!   name and gives PyTorch's outputs;
//! - `nn::Adam` on the VarStore lowers the loss of every unit; `vs.save` → `vs.load` round-trips bitwise;
//! - a population's member equals the same weights as a single model; wrong shapes are errors that name the
//!   dimension.

use rnnlab::nn::{population_linear, rnn, Rnn, RnnConfig, RnnState};
use rnnlab::CellKind;
use std::collections::BTreeSet;
use tch::nn::{self, Module, ModuleT, OptimizerConfig, RNN};
use tch::{Device, Kind, Tensor};

const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a - b).abs().max().double_value(&[])
}

fn names(vs: &nn::VarStore) -> BTreeSet<String> {
    vs.variables().into_keys().collect()
}

fn f64_store() -> nn::VarStore {
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    vs
}

/// The input of a layout: `[B, T, D]` batch-first, `[T, B, D]` time-major.
fn input(batch_first: bool, b: i64, t: i64, d: i64) -> Tensor {
    let x = Tensor::randn([b, t, d], F64);
    if batch_first {
        x
    } else {
        x.transpose(0, 1).contiguous()
    }
}

/// Our torch form beside tch's layer, weights copied by name from tch's VarStore.
fn check_against_tch(kind: CellKind, layers: i64, bidirectional: bool, batch_first: bool) {
    tch::manual_seed(7);
    let (d, h, b, t) = (3, 5, 4, 6);
    let tch_cfg = nn::RNNConfig {
        num_layers: layers,
        bidirectional,
        batch_first,
        ..Default::default()
    };
    let ours_cfg = RnnConfig {
        num_layers: layers,
        bidirectional,
        batch_first,
        seed: Some(3),
        ..Default::default()
    };
    let theirs_vs = f64_store();
    let mut ours_vs = f64_store();
    let ours = rnn(ours_vs.root(), kind, d, h, ours_cfg).unwrap();
    let x = input(batch_first, b, t, d);
    let dirs = if bidirectional { 2 } else { 1 };
    let h0 = Tensor::randn([layers * dirs, b, h], F64);
    let what = format!(
        "{kind}, {layers} layers, bidirectional {bidirectional}, batch_first {batch_first}"
    );
    let (out, state, theirs_out, theirs_h, theirs_c) = match kind {
        CellKind::TorchGru => {
            let theirs = nn::gru(theirs_vs.root(), d, h, tch_cfg);
            ours_vs.copy(&theirs_vs).unwrap();
            let (o, s) = theirs.seq_init(&x, &nn::GRUState(h0.shallow_clone()));
            let (out, state) = ours.seq_init(&x, &RnnState { h: h0, c: None });
            (out, state, o, s.value(), None)
        }
        CellKind::TorchLstm => {
            let theirs = nn::lstm(theirs_vs.root(), d, h, tch_cfg);
            ours_vs.copy(&theirs_vs).unwrap();
            let c0 = Tensor::randn([layers * dirs, b, h], F64);
            let (o, s) =
                theirs.seq_init(&x, &nn::LSTMState((h0.shallow_clone(), c0.shallow_clone())));
            let (out, state) = ours.seq_init(&x, &RnnState { h: h0, c: Some(c0) });
            (out, state, o, s.h(), Some(s.c()))
        }
        CellKind::Tanh => {
            // tch has no tanh layer: libtorch's at::rnn_tanh on the VarStore's tensors, in PyTorch's order.
            let vars = ours_vs.variables();
            let mut flat = Vec::new();
            for l in 0..layers {
                for suffix in ["", "_reverse"].iter().take(dirs as usize) {
                    for p in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                        flat.push(vars[&format!("{p}_l{l}{suffix}")].shallow_clone());
                    }
                }
            }
            let (o, hn) = x.rnn_tanh(
                &h0,
                &flat,
                true,
                layers,
                0.0,
                false,
                bidirectional,
                batch_first,
            );
            let (out, state) = ours.seq_init(&x, &RnnState { h: h0, c: None });
            (out, state, o, hn, None)
        }
        other => panic!("{other} has no built-in twin"),
    };
    if kind != CellKind::Tanh {
        assert_eq!(
            names(&ours_vs),
            names(&theirs_vs),
            "{what}: parameter names"
        );
    }
    let d_out = max_diff(&out, &theirs_out);
    let d_h = max_diff(&state.h, &theirs_h);
    assert!(
        d_out <= 1e-12 && d_h <= 1e-12,
        "{what}: outputs differ by {d_out:e}, h_n by {d_h:e}"
    );
    if let Some(c) = theirs_c {
        let d_c = max_diff(state.c.as_ref().unwrap(), &c);
        assert!(d_c <= 1e-12, "{what}: c_n differs by {d_c:e}");
    }
    let expect_out = if batch_first {
        [b, t, dirs * h]
    } else {
        [t, b, dirs * h]
    };
    assert_eq!(out.size(), expect_out, "{what}: output shape");
}

#[test]
fn torch_forms_equal_tch_layers_given_the_same_weights() {
    for kind in [CellKind::TorchGru, CellKind::TorchLstm, CellKind::Tanh] {
        for (layers, bidirectional) in [(1, false), (2, true), (2, false)] {
            for batch_first in [true, false] {
                check_against_tch(kind, layers, bidirectional, batch_first);
            }
        }
    }
}

#[test]
fn without_biases_the_layer_equals_tchs_and_holds_no_bias() {
    tch::manual_seed(11);
    let theirs_vs = f64_store();
    let mut ours_vs = f64_store();
    let cfg = nn::RNNConfig {
        has_biases: false,
        ..Default::default()
    };
    let theirs = nn::gru(theirs_vs.root(), 3, 4, cfg);
    let ours = rnn(
        ours_vs.root(),
        CellKind::TorchGru,
        3,
        4,
        RnnConfig {
            has_biases: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        names(&ours_vs),
        ["weight_hh_l0", "weight_ih_l0"].map(String::from).into()
    );
    ours_vs.copy(&theirs_vs).unwrap();
    let x = Tensor::randn([2, 5, 3], F64);
    let d = max_diff(&ours.seq(&x).0, &theirs.seq(&x).0);
    assert!(d <= 1e-12, "differs by {d:e}");
}

#[test]
fn a_pytorch_state_dict_loads_by_name_and_gives_pytorchs_outputs() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch_rnn.safetensors"
    );
    let fixture: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect();
    for (unit, kind) in [
        ("tanh", CellKind::Tanh),
        ("gru", CellKind::TorchGru),
        ("lstm", CellKind::TorchLstm),
    ] {
        let mut vs = f64_store();
        let cfg = RnnConfig {
            num_layers: 2,
            bidirectional: true,
            batch_first: true,
            ..Default::default()
        };
        let layer = rnn(vs.root() / unit, kind, 3, 4, cfg).unwrap();
        // Every parameter comes from the file: a name the file lacks is an error here.
        vs.load(path).unwrap();
        let get = |k: &str| fixture[&format!("{unit}.{k}")].shallow_clone();
        let state = RnnState {
            h: get("h0"),
            c: kind.has_cell_state().then(|| get("c0")),
        };
        let (out, last) = layer.seq_init(&get("input"), &state);
        let d_out = max_diff(&out, &get("output"));
        let d_h = max_diff(&last.h, &get("h_n"));
        assert!(
            d_out <= 1e-12 && d_h <= 1e-12,
            "{unit}: output {d_out:e}, h_n {d_h:e}"
        );
        if kind.has_cell_state() {
            let d_c = max_diff(last.c.as_ref().unwrap(), &get("c_n"));
            assert!(d_c <= 1e-12, "{unit}: c_n {d_c:e}");
        }
    }
}

/// A small next-step regression every unit can learn a little of.
fn toy_loss(layer: &Rnn, head: &nn::Linear, x: &Tensor) -> Tensor {
    let (out, _) = layer.seq(&x.narrow(1, 0, 7));
    head.forward(&out)
        .mse_loss(&x.narrow(1, 1, 7), tch::Reduction::Mean)
}

#[test]
fn adam_on_the_var_store_lowers_the_loss_of_every_unit() {
    for kind in CellKind::ALL {
        tch::manual_seed(5);
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = RnnConfig {
            seed: Some(9),
            ..Default::default()
        };
        let layer = rnn(vs.root() / "rnn", kind, 3, 6, cfg).unwrap();
        let head = nn::linear(vs.root() / "out", 6, 3, Default::default());
        let x = Tensor::randn([4, 8, 3], (Kind::Float, Device::Cpu)).cumsum(1, Kind::Float) * 0.3;
        let mut opt = nn::Adam::default().build(&vs, 1e-2).unwrap();
        let first = toy_loss(&layer, &head, &x).double_value(&[]);
        for _ in 0..40 {
            let loss = toy_loss(&layer, &head, &x);
            opt.backward_step_clip(&loss, 1.0);
        }
        let last = toy_loss(&layer, &head, &x).double_value(&[]);
        assert!(last < 0.7 * first, "{kind}: loss {first} → {last}");
        // Adam moved the cell's own tensors: they are the VarStore's.
        assert!(layer.cell(0, 0).unwrap().named_parameters()[0]
            .1
            .requires_grad());
    }
}

#[test]
fn save_then_load_round_trips_bitwise() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lstm.safetensors");
    let cfg = |seed| RnnConfig {
        bidirectional: true,
        num_layers: 2,
        seed: Some(seed),
        ..Default::default()
    };
    let vs = nn::VarStore::new(Device::Cpu);
    let a = rnn(vs.root(), CellKind::PaperLstm, 3, 4, cfg(1)).unwrap();
    vs.save(&file).unwrap();
    let mut vs2 = nn::VarStore::new(Device::Cpu);
    let b = rnn(vs2.root(), CellKind::PaperLstm, 3, 4, cfg(2)).unwrap();
    let x = Tensor::randn([2, 5, 3], (Kind::Float, Device::Cpu));
    assert_ne!(a.seq(&x).0, b.seq(&x).0, "two seeds drew the same weights");
    vs2.load(&file).unwrap();
    let (va, vb) = (vs.variables(), vs2.variables());
    assert_eq!(va.len(), vb.len());
    for (name, t) in &va {
        assert!(t.equal(&vb[name]), "{name} differs after the round trip");
    }
    assert!(
        a.seq(&x).0.equal(&b.seq(&x).0),
        "outputs differ after loading"
    );
}

#[test]
fn seeds_repeat_and_manual_seed_drives_the_default() {
    let make = |seed: Option<u64>| {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = RnnConfig {
            seed,
            ..Default::default()
        };
        let _ = rnn(vs.root(), CellKind::Mgu, 3, 4, cfg).unwrap();
        vs.variables()["weight_hh_l0"].copy()
    };
    assert!(make(Some(4)).equal(&make(Some(4))));
    tch::manual_seed(21);
    let first = make(None);
    tch::manual_seed(21);
    assert!(first.equal(&make(None)));
    assert!(
        !first.equal(&make(None)),
        "an unseeded draw repeated without manual_seed"
    );
}

#[test]
fn a_populations_member_equals_the_same_weights_as_a_single_model() {
    let k = 3;
    for kind in [CellKind::PaperGru, CellKind::PaperLstm, CellKind::Mut1] {
        let cfg = RnnConfig {
            num_layers: 2,
            bidirectional: true,
            population: Some(k),
            seed: Some(8),
            ..Default::default()
        };
        let pop_vs = f64_store();
        let pop = rnn(pop_vs.root(), kind, 3, 4, cfg).unwrap();
        let shared = Tensor::randn([2, 5, 3], F64);
        let per_member = Tensor::randn([k, 2, 5, 3], F64);
        let (pop_shared, _) = pop.seq(&shared);
        let (pop_own, pop_state) = pop.seq(&per_member);
        assert_eq!(pop_own.size(), [k, 2, 5, 8]);
        assert_eq!(pop_state.h.size(), [4, k, 2, 4]);
        for m in 0..k {
            let one_vs = f64_store();
            let one = rnn(
                one_vs.root(),
                kind,
                3,
                4,
                RnnConfig {
                    population: None,
                    ..cfg
                },
            )
            .unwrap();
            let pop_vars = pop_vs.variables();
            tch::no_grad(|| {
                for (name, mut t) in one_vs.variables() {
                    t.copy_(&pop_vars[&name].get(m));
                }
            });
            let d1 = max_diff(&one.seq(&shared).0, &pop_shared.get(m));
            let (own, own_state) = one.seq(&per_member.get(m));
            let d2 = max_diff(&own, &pop_own.get(m));
            let d3 = max_diff(&own_state.h, &pop_state.h.select(1, m));
            assert!(
                d1 <= 1e-12 && d2 <= 1e-12 && d3 <= 1e-12,
                "{kind} member {m}: {d1:e} {d2:e} {d3:e}"
            );
        }
    }
}

#[test]
fn wrong_shapes_are_errors_that_name_the_dimension() {
    let vs = nn::VarStore::new(Device::Cpu);
    let batch_first = rnn(
        vs.root() / "a",
        CellKind::PaperGru,
        3,
        4,
        RnnConfig::default(),
    )
    .unwrap();
    let time_major_cfg = RnnConfig {
        batch_first: false,
        ..Default::default()
    };
    let time_major = rnn(vs.root() / "b", CellKind::PaperGru, 3, 4, time_major_cfg).unwrap();
    let opts = (Kind::Float, Device::Cpu);
    // [time 7, batch 2, 3] given to a batch-first layer whose state has batch 2.
    let err = batch_first
        .f_seq_init(
            &Tensor::zeros([7, 2, 3], opts),
            &batch_first.zero_state(2),
            false,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dimension 0 is the batch") && err.contains("looks time-major"),
        "{err}"
    );
    // The reverse: [batch 2, time 7, 3] given to a time-major layer.
    let err = time_major
        .f_seq_init(
            &Tensor::zeros([2, 7, 3], opts),
            &time_major.zero_state(2),
            false,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dimension 1 is the batch") && err.contains("looks batch-first"),
        "{err}"
    );
    let err = batch_first
        .f_seq(&Tensor::zeros([2, 7, 5], opts), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dimension 2 (features) has size 5, the layer expects 3"),
        "{err}"
    );
    let err = batch_first
        .f_seq(&Tensor::zeros([7, 3], opts), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rank 2"), "{err}");
    // A name taken twice in one VarStore is an error, not a silent `__1`.
    let err = rnn(vs.root() / "a", CellKind::Tanh, 3, 4, RnnConfig::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("a.weight_ih_l0"), "{err}");
    let err = rnn(
        vs.root() / "c",
        CellKind::Tanh,
        3,
        4,
        RnnConfig {
            num_layers: 0,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("num_layers"), "{err}");
    let cfg = RnnConfig {
        has_biases: false,
        forget_bias: 1.0,
        ..Default::default()
    };
    let err = rnn(vs.root() / "d", CellKind::PaperLstm, 3, 4, cfg)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has_biases"), "{err}");
}

/// A model as a tch user writes one: the layer sits in a struct that implements `nn::Module`, which needs
/// `Send + Debug`.
#[derive(Debug)]
struct Tagger {
    rnn: Rnn,
    out: nn::Linear,
}

impl Module for Tagger {
    fn forward(&self, xs: &Tensor) -> Tensor {
        self.out.forward(&self.rnn.forward_t(xs, false))
    }
}

#[test]
fn the_layer_sits_in_a_module_and_moves_between_threads() {
    fn send_debug<T: Send + std::fmt::Debug>(_: &T) {}
    let vs = nn::VarStore::new(Device::Cpu);
    let model = Tagger {
        rnn: rnn(
            vs.root() / "rnn",
            CellKind::LstmCifg,
            3,
            4,
            RnnConfig::default(),
        )
        .unwrap(),
        out: nn::linear(vs.root() / "out", 4, 2, Default::default()),
    };
    send_debug(&model);
    let y = std::thread::spawn(move || {
        model.forward(&Tensor::zeros([2, 5, 3], (Kind::Float, Device::Cpu)))
    })
    .join()
    .unwrap();
    assert_eq!(y.size(), [2, 5, 2]);
}

#[test]
fn a_population_trains_each_member_at_its_own_learning_rate() {
    let k = 3;
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = RnnConfig {
        population: Some(k),
        seed: Some(2),
        ..Default::default()
    };
    let layer = rnn(vs.root() / "rnn", CellKind::PaperGru, 2, 5, cfg).unwrap();
    let head = population_linear(vs.root() / "out", k, 5, 2, 3).unwrap();
    let x = Tensor::randn([4, 9, 2], (Kind::Float, Device::Cpu)).cumsum(1, Kind::Float) * 0.3;
    // Member 0 does not move (learning rate 0); the others do.
    let lr = Tensor::from_slice(&[0.0f32, 3e-3, 3e-2]);
    let active = Tensor::ones([k], (Kind::Float, Device::Cpu));
    let params = vs.trainable_variables();
    let refs: Vec<&Tensor> = params.iter().collect();
    let mut opt = rnnlab::RmsProp::new(&refs, 0.95, 1e-2, 0.9);
    let per_member_loss = || {
        let (out, _) = layer.seq(&x.narrow(1, 0, 8));
        let pred = head.forward(&out);
        (pred - x.narrow(1, 1, 8))
            .square()
            .mean_dim(&[1i64, 2, 3][..], false, Kind::Float)
    };
    let before = per_member_loss().detach();
    for _ in 0..30 {
        let loss = per_member_loss().sum(Kind::Float);
        for p in &params {
            let _ = p.grad().f_zero_();
        }
        loss.backward();
        let grads: Vec<Tensor> = params.iter().map(|p| p.grad()).collect();
        opt.step(&refs, &grads, &lr, &active);
    }
    let after = per_member_loss().detach();
    assert_eq!(
        after.double_value(&[0]),
        before.double_value(&[0]),
        "member 0 moved"
    );
    for m in 1..k {
        assert!(
            after.double_value(&[m]) < before.double_value(&[m]),
            "member {m} did not improve"
        );
    }
}

#[test]
fn converting_the_var_store_after_construction_converts_the_layer() {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let layer = rnn(vs.root(), CellKind::PaperLstm, 3, 4, RnnConfig::default()).unwrap();
    vs.double();
    let (out, state) = layer.seq(&Tensor::randn([2, 5, 3], F64));
    assert_eq!(out.kind(), Kind::Double);
    assert_eq!(state.c.unwrap().kind(), Kind::Double);
    let err = layer
        .f_seq(&Tensor::randn([2, 5, 3], (Kind::Float, Device::Cpu)), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Float") && err.contains("Double"), "{err}");
}

#[test]
fn dropout_acts_between_layers_in_training_mode_only() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = RnnConfig {
        num_layers: 2,
        dropout: 0.5,
        seed: Some(1),
        ..Default::default()
    };
    let layer = rnn(vs.root() / "a", CellKind::PaperGru, 3, 4, cfg).unwrap();
    let plain = rnn(
        vs.root() / "b",
        CellKind::PaperGru,
        3,
        4,
        RnnConfig {
            dropout: 0.0,
            ..cfg
        },
    )
    .unwrap();
    let x = Tensor::randn([2, 6, 3], (Kind::Float, Device::Cpu));
    // Same seed, same weights: without training mode the dropout layer is the plain one.
    assert!(layer
        .forward_t(&x, false)
        .equal(&plain.forward_t(&x, false)));
    let (a, b) = (layer.forward_t(&x, true), layer.forward_t(&x, true));
    assert!(
        !a.equal(&b),
        "two training passes drew the same dropout mask"
    );
    assert!(!a.equal(&plain.forward_t(&x, true)));
    // nn::RNN's methods follow RnnConfig::train.
    let eval_cfg = RnnConfig {
        train: false,
        ..cfg
    };
    let eval = rnn(vs.root() / "c", CellKind::PaperGru, 3, 4, eval_cfg).unwrap();
    assert!(eval.seq(&x).0.equal(&eval.seq(&x).0));
}
