//! The cells' maths, checked against libtorch's built-ins, PyTorch/NumPy golden fixtures and finite differences,
//! plus the population layout, parameter counts and error paths.

use rnnlab::cells::{
    load_parameters, new_cell, BuiltinLayer, CellConfig, CellKind, CustomLayer, Implementation,
    Init, SequenceLayer, State,
};
use rnnlab::device::Dtype;
use rnnlab::rng::Rng;
use rnnlab::validate::{
    self, check_fixture_case, compare_with_builtin, finite_difference_error,
    finite_difference_error_at, forward_backward, max_abs_diff, Fixtures, Probe, Shape,
};
use tch::{Device, Kind, Tensor};

/// Tests that touch libtorch's global TF32 flag hold this lock.
static TF32: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// Tests that touch libtorch's global oneDNN flag hold this lock.
static ONEDNN: std::sync::Mutex<()> = std::sync::Mutex::new(());

const TORCH_FORMS: [CellKind; 3] = [CellKind::Tanh, CellKind::TorchGru, CellKind::TorchLstm];

fn options(dtype: Dtype) -> validate::Options {
    validate::Options {
        dtypes: vec![dtype],
        random_cases: 8,
        ..Default::default()
    }
}

#[test]
fn torch_forms_equal_builtins_f64() {
    for kind in TORCH_FORMS {
        for mode in Implementation::BUILTIN {
            let row = compare_with_builtin(kind, mode, Dtype::F64, &options(Dtype::F64)).unwrap();
            assert!(
                row.max_abs_out <= 1e-10 && row.max_abs_grad <= 1e-10,
                "{kind} vs {}: out {:e}, grad {:e}",
                row.reference,
                row.max_abs_out,
                row.max_abs_grad
            );
            assert!(row.pass);
        }
    }
}

#[test]
fn torch_forms_equal_builtins_f32() {
    for kind in TORCH_FORMS {
        for mode in Implementation::BUILTIN {
            let row = compare_with_builtin(kind, mode, Dtype::F32, &options(Dtype::F32)).unwrap();
            assert!(
                row.max_abs_out <= 1e-5 && row.max_abs_grad <= 1e-5,
                "{kind} vs {}: out {:e}, grad {:e}",
                row.reference,
                row.max_abs_out,
                row.max_abs_grad
            );
        }
    }
}

#[test]
fn random_shapes_cover_the_required_ranges() {
    let shapes = validate::random_shapes(50, 7);
    assert_eq!(shapes.len(), 50);
    assert_eq!(
        shapes[0],
        Shape {
            seq: 1,
            batch: 1,
            input: 1,
            hidden: 1
        }
    );
    assert_eq!(
        shapes[1],
        Shape {
            seq: 50,
            batch: 16,
            input: 100,
            hidden: 128
        }
    );
    for s in &shapes {
        assert!((1..=50).contains(&s.seq) && (1..=16).contains(&s.batch));
        assert!((1..=100).contains(&s.input) && (1..=128).contains(&s.hidden));
    }
    assert_eq!(
        shapes,
        validate::random_shapes(50, 7),
        "shapes must be reproducible from the seed"
    );
}

#[test]
fn every_cell_matches_its_golden_fixtures() {
    let fixtures = Fixtures::embedded().unwrap();
    for kind in CellKind::ALL {
        assert!(
            fixtures.cases.iter().any(|c| c.cell == kind),
            "no fixture case for {kind}"
        );
    }
    for case in &fixtures.cases {
        let (out, grad) = check_fixture_case(case, Kind::Double, Device::Cpu).unwrap();
        assert!(
            out <= 1e-10 && grad <= 1e-10,
            "{} ({}) f64: out {out:e}, grad {grad:e}",
            case.name,
            case.reference
        );
        let (out, grad) = check_fixture_case(case, Kind::Float, Device::Cpu).unwrap();
        assert!(
            out <= 1e-5 && grad <= 1e-5,
            "{} f32: out {out:e}, grad {grad:e}",
            case.name
        );
    }
}

/// The fixture comparison is sensitive: nudging one weight by 1e-6 must break the f64 match.
#[test]
fn fixture_check_detects_a_perturbed_weight() {
    let fixtures = Fixtures::embedded().unwrap();
    let case = fixtures
        .cases
        .iter()
        .find(|c| c.cell == CellKind::PaperGru)
        .unwrap();
    let mut params: Vec<(String, Tensor)> = case
        .params
        .iter()
        .map(|(n, t)| (n.clone(), t.to_tensor(Kind::Double, Device::Cpu).unwrap()))
        .collect();
    let cfg = CellConfig {
        kind: Kind::Double,
        ..CellConfig::new(case.input_size, case.hidden_size)
    };
    let cell = new_cell(case.cell, &cfg, &mut Rng::new(0).unwrap()).unwrap();
    let (name, w) = params.iter_mut().find(|(n, _)| n == "weight_hh").unwrap();
    *w = &*w + Tensor::zeros_like(w).index_fill(0, &Tensor::from_slice(&[0i64]), 1e-6);
    assert_eq!(name, "weight_hh");
    load_parameters(cell.as_ref(), &params).unwrap();
    let layer = CustomLayer::new(cell);
    let x = case.x.to_tensor(Kind::Double, Device::Cpu).unwrap();
    let h0 = case.h0.to_tensor(Kind::Double, Device::Cpu).unwrap();
    let (out, _) = layer.forward(&x, Some(&State { h: h0, c: None })).unwrap();
    let expected = case.output.to_tensor(Kind::Double, Device::Cpu).unwrap();
    let err = max_abs_diff(&out, &expected);
    assert!(
        err > 1e-10,
        "a 1e-6 change in U went unnoticed (err {err:e})"
    );
}

#[test]
fn every_cell_passes_finite_differences_in_f64() {
    for kind in CellKind::ALL {
        let err = finite_difference_error(kind, Device::Cpu, 11).unwrap();
        assert!(
            err <= validate::FD_TOLERANCE,
            "{kind}: autograd vs finite differences {err:e}"
        );
    }
}

/// Weight noise, LR candidates and seeds are trained as a population; each member must compute exactly what a
/// separate model with its slice of the weights computes, for a shared and for a per-member input.
#[test]
fn population_members_equal_separate_cells() {
    population_check(5, 4);
}

/// The same with input = hidden, where MUT1 and MUT2 add the input itself (no `weight_x`), which a population with
/// a shared input must lift to every member.
#[test]
fn population_members_equal_separate_cells_square() {
    population_check(4, 4);
}

fn population_check(d: i64, hd: i64) {
    let mut rng = Rng::new(3).unwrap();
    let k = 3;
    for kind in CellKind::ALL {
        let cfg = CellConfig {
            kind: Kind::Double,
            population: Some(k),
            init: Init::Paper { scale: 0.3 },
            ..CellConfig::new(d, hd)
        };
        let pop = CustomLayer::new(new_cell(kind, &cfg, &mut rng).unwrap());
        let shared = rng.randn(&[6, 2, d], (Kind::Double, Device::Cpu));
        let per_member = rng.randn(&[k, 6, 2, d], (Kind::Double, Device::Cpu));
        let (out_shared, st_shared) = pop.forward(&shared, None).unwrap();
        let (out_member, _) = pop.forward(&per_member, None).unwrap();
        assert_eq!(out_shared.size(), [k, 6, 2, hd]);
        for m in 0..k {
            let single = new_cell(
                kind,
                &CellConfig {
                    population: None,
                    ..cfg
                },
                &mut Rng::new(0).unwrap(),
            )
            .unwrap();
            let params: Vec<(String, Tensor)> = pop
                .cell()
                .named_parameters()
                .iter()
                .map(|(n, t)| (n.to_string(), t.get(m).detach()))
                .collect();
            load_parameters(single.as_ref(), &params).unwrap();
            let single = CustomLayer::new(single);
            let (o, st) = single.forward(&shared, None).unwrap();
            assert!(
                max_abs_diff(&o, &out_shared.get(m)) <= 1e-12,
                "{kind} member {m}, shared input"
            );
            assert!(max_abs_diff(&st.h, &st_shared.h.get(m)) <= 1e-12);
            let (o, _) = single.forward(&per_member.get(m), None).unwrap();
            assert!(
                max_abs_diff(&o, &out_member.get(m)) <= 1e-12,
                "{kind} member {m}, own input"
            );
        }
    }
}

#[test]
fn parameter_counts_follow_table_1() {
    // The speech sizes of Table 1 (input 20) reproduce the paper's counts exactly.
    let count = |kind, hidden| {
        let cell = new_cell(
            kind,
            &CellConfig::new(20, hidden),
            &mut Rng::new(0).unwrap(),
        )
        .unwrap();
        (cell.paper_param_count(), cell.param_count())
    };
    assert_eq!(count(CellKind::PaperLstm, 195), (169_065, 169_065));
    assert_eq!(count(CellKind::PaperGru, 227), (168_888, 168_888));
    assert_eq!(count(CellKind::Tanh, 400), (168_400, 168_800));
    // PyTorch's forms carry two bias vectors where the maths has one.
    assert_eq!(count(CellKind::TorchGru, 227), (168_888, 168_888 + 3 * 227));
    assert_eq!(
        count(CellKind::TorchLstm, 195),
        (168_480, 168_480 + 4 * 195)
    );
    // Per model, also in a population.
    let pop = new_cell(
        CellKind::PaperGru,
        &CellConfig {
            population: Some(4),
            ..CellConfig::new(20, 227)
        },
        &mut Rng::new(0).unwrap(),
    )
    .unwrap();
    assert_eq!(pop.param_count(), 168_888);
}

#[test]
fn paper_init_makes_orthogonal_recurrent_blocks_and_zero_biases() {
    let h = 16;
    let cfg = CellConfig {
        kind: Kind::Double,
        init: Init::Paper { scale: 0.1 },
        ..CellConfig::new(8, h)
    };
    let cell = new_cell(CellKind::PaperLstm, &cfg, &mut Rng::new(0).unwrap()).unwrap();
    let named = cell.named_parameters();
    let get = |name: &str| named.iter().find(|(n, _)| *n == name).unwrap().1;
    let u = get("weight_hh");
    for g in 0..4 {
        let block = u.narrow(0, g * h, h);
        let gram = block.tr().mm(&block);
        let eye = Tensor::eye(h, (Kind::Double, Device::Cpu));
        assert!(
            max_abs_diff(&gram, &eye) < 1e-12,
            "gate block {g} is not orthogonal"
        );
    }
    assert_eq!(get("bias").abs().max().double_value(&[]), 0.0);
    let w = get("weight_ih").abs().max().double_value(&[]);
    assert!(
        w <= 0.1 && w > 0.05,
        "input weights should be U(-0.1, 0.1), max |w| = {w}"
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let cfg = CellConfig::new(5, 4);
    let lstm =
        CustomLayer::new(new_cell(CellKind::PaperLstm, &cfg, &mut Rng::new(0).unwrap()).unwrap());
    let wrong_width = Tensor::zeros([3, 2, 6], (Kind::Float, Device::Cpu));
    let err = lstm.forward(&wrong_width, None).unwrap_err().to_string();
    assert!(
        err.contains("[3, 2, 6]") && err.contains("expected"),
        "{err}"
    );
    let wrong_rank = Tensor::zeros([2, 5], (Kind::Float, Device::Cpu));
    assert!(lstm.forward(&wrong_rank, None).is_err());
    let wrong_dtype = Tensor::zeros([3, 2, 5], (Kind::Double, Device::Cpu));
    assert!(lstm
        .forward(&wrong_dtype, None)
        .unwrap_err()
        .to_string()
        .contains("Double"));
    let x = Tensor::zeros([3, 2, 5], (Kind::Float, Device::Cpu));
    let no_c = State {
        h: Tensor::zeros([2, 4], (Kind::Float, Device::Cpu)),
        c: None,
    };
    assert!(lstm
        .forward(&x, Some(&no_c))
        .unwrap_err()
        .to_string()
        .contains("initial c"));
    let bad_h = State {
        h: Tensor::zeros([3, 4], (Kind::Float, Device::Cpu)),
        c: None,
    };
    let gru =
        CustomLayer::new(new_cell(CellKind::PaperGru, &cfg, &mut Rng::new(0).unwrap()).unwrap());
    assert!(gru.forward(&x, Some(&bad_h)).is_err());

    // The paper forms have no libtorch twin.
    assert!(BuiltinLayer::new(gru.cell(), Implementation::BuiltinSeq).is_err());
    let builtin = BuiltinLayer::new(
        new_cell(CellKind::TorchGru, &cfg, &mut Rng::new(0).unwrap())
            .unwrap()
            .as_ref(),
        Implementation::BuiltinSeq,
    )
    .unwrap();
    assert!(builtin.forward(&wrong_width, None).is_err());

    // Loading parameters checks names and shapes.
    let cell = new_cell(CellKind::TorchGru, &cfg, &mut Rng::new(0).unwrap()).unwrap();
    let good: Vec<(String, Tensor)> = cell
        .named_parameters()
        .iter()
        .map(|(n, t)| (n.to_string(), t.detach().zeros_like()))
        .collect();
    assert!(load_parameters(cell.as_ref(), &good).is_ok());
    let mut missing = good
        .iter()
        .map(|(n, t)| (n.clone(), t.shallow_clone()))
        .collect::<Vec<_>>();
    missing.pop();
    assert!(load_parameters(cell.as_ref(), &missing)
        .unwrap_err()
        .to_string()
        .contains("no value"));
    let mut wrong_shape = missing;
    wrong_shape.push((
        "bias_hh".into(),
        Tensor::zeros([5], (Kind::Float, Device::Cpu)),
    ));
    assert!(load_parameters(cell.as_ref(), &wrong_shape)
        .unwrap_err()
        .to_string()
        .contains("shape"));
    let mut unknown = good;
    unknown.push((
        "peephole".into(),
        Tensor::zeros([12], (Kind::Float, Device::Cpu)),
    ));
    assert!(load_parameters(cell.as_ref(), &unknown)
        .unwrap_err()
        .to_string()
        .contains("no parameter"));

    assert!(new_cell(
        CellKind::Tanh,
        &CellConfig::new(0, 4),
        &mut Rng::new(0).unwrap()
    )
    .is_err());
    assert!("gru2".parse::<CellKind>().is_err());
    assert_eq!(
        "paper_lstm".parse::<CellKind>().unwrap(),
        CellKind::PaperLstm
    );
}

/// Gradients flow to the shared weights through the built-in layer exactly as through the custom one.
#[test]
fn builtin_layers_share_the_custom_cells_weights() {
    let mut rng = Rng::new(5).unwrap();
    let cfg = CellConfig {
        kind: Kind::Double,
        ..CellConfig::new(3, 2)
    };
    let custom = CustomLayer::new(new_cell(CellKind::TorchLstm, &cfg, &mut rng).unwrap());
    let builtin = BuiltinLayer::new(custom.cell(), Implementation::BuiltinSeq).unwrap();
    let s = Shape {
        seq: 4,
        batch: 1,
        input: 3,
        hidden: 2,
    };
    let probe = Probe::random(CellKind::TorchLstm, s, Kind::Double, Device::Cpu, &mut rng);
    let params = custom.cell().parameters();
    let a = forward_backward(&custom, &params, &probe).unwrap();
    let b = forward_backward(&builtin, &params, &probe).unwrap();
    assert_eq!(a.grads.len(), 3 + 4);
    for (x, y) in a.grads.iter().zip(&b.grads) {
        assert!(
            x.abs().sum(Kind::Double).double_value(&[]) > 0.0,
            "a gradient is identically zero"
        );
        assert!(max_abs_diff(x, y) <= 1e-12);
    }
}

/// On CUDA (when a GPU is visible): the same comparisons with tensors on the GPU, against cuDNN and the per-step
/// kernels, the fixtures and finite differences. Without a GPU this says it was skipped.
#[test]
fn cuda_cells_match_builtins_fixtures_and_finite_differences() {
    if !tch::Cuda::is_available() {
        eprintln!("SKIPPED: no CUDA device visible to libtorch; run scripts/cuda-check.sh on a GPU machine");
        return;
    }
    let device = Device::Cuda(0);
    // cuDNN's default TF32 mode puts float32 RNNs ~1e-3 from strict float32; validate::run turns it off, do so here.
    let _tf32 = TF32.lock().unwrap_or_else(|e| e.into_inner());
    rnnlab::device::set_allow_tf32_cudnn(false);
    for dtype in [Dtype::F64, Dtype::F32] {
        let opts = validate::Options {
            device,
            ..options(dtype)
        };
        for kind in TORCH_FORMS {
            for mode in Implementation::BUILTIN {
                let row = compare_with_builtin(kind, mode, dtype, &opts).unwrap();
                assert!(
                    row.pass,
                    "{kind} vs {} on CUDA {dtype:?}: {row:?}",
                    row.reference
                );
            }
        }
    }
    let fixtures = Fixtures::embedded().unwrap();
    for case in &fixtures.cases {
        let (out, grad) = check_fixture_case(case, Kind::Double, device).unwrap();
        assert!(
            out <= 1e-10 && grad <= 1e-10,
            "{} on CUDA: {out:e} {grad:e}",
            case.name
        );
    }
    for kind in CellKind::ALL {
        let err = finite_difference_error(kind, device, 11).unwrap();
        assert!(err <= validate::FD_TOLERANCE, "{kind} on CUDA: {err:e}");
    }
}

/// The TF32 switch that tch does not wrap (src/ffi/precision.cpp) reaches libtorch's global context.
#[test]
fn tf32_switch_round_trips() {
    let _tf32 = TF32.lock().unwrap_or_else(|e| e.into_inner());
    let before = rnnlab::device::allow_tf32_cudnn();
    rnnlab::device::set_allow_tf32_cudnn(false);
    assert!(!rnnlab::device::allow_tf32_cudnn());
    rnnlab::device::set_allow_tf32_cudnn(true);
    assert!(rnnlab::device::allow_tf32_cudnn());
    rnnlab::device::set_allow_tf32_cudnn(before);
}

/// The oneDNN switch (src/ffi/precision.cpp) reaches libtorch, and on CPU at::lstm matches the custom LSTM in f32
/// on both of its paths: oneDNN's fused LSTM layer (on, the default) and the per-step ops (off).
#[test]
fn builtin_lstm_matches_with_onednn_on_and_off() {
    let _onednn = ONEDNN.lock().unwrap_or_else(|e| e.into_inner());
    let before = rnnlab::device::onednn_enabled();
    for enabled in [true, false] {
        rnnlab::device::set_onednn_enabled(enabled);
        assert_eq!(rnnlab::device::onednn_enabled(), enabled);
        let row = compare_with_builtin(
            CellKind::TorchLstm,
            Implementation::BuiltinSeq,
            Dtype::F32,
            &options(Dtype::F32),
        )
        .unwrap();
        assert!(
            row.max_abs_out <= 1e-5 && row.max_abs_grad <= 1e-5,
            "oneDNN {enabled}: out {:e}, grad {:e}",
            row.max_abs_out,
            row.max_abs_grad
        );
    }
    rnnlab::device::set_onednn_enabled(before);
}

// ---------------------------------------------------------------------------------------------------------------
// The registry and the units beyond the paper.

/// Every unit's registry name is its serde name (configs, fixtures) and parses back to it.
#[test]
fn registry_names_are_the_serde_names() {
    for kind in CellKind::ALL {
        let serde = serde_json::to_string(&kind).unwrap();
        assert_eq!(serde, format!("\"{}\"", kind.name()), "{kind:?}");
        assert_eq!(kind.name().parse::<CellKind>().unwrap(), kind);
        assert_eq!(rnnlab::reproduce::parse_unit(kind.name()).unwrap(), kind);
    }
    let err = "gruu".parse::<CellKind>().unwrap_err().to_string();
    assert!(err.contains("mgu") && err.contains("lstm_cifg"), "{err}");
    assert!(rnnlab::report::table::unit_family("gruu").is_err());
    assert_eq!(
        rnnlab::report::table::unit_family("paper_gru").unwrap(),
        "gru"
    );
    assert_eq!(rnnlab::report::table::unit_family("mut2").unwrap(), "mut2");
}

/// A unit whose parameters are its paper's (no PyTorch twin) holds exactly the parameters its paper count counts,
/// at the music sizes and at input = hidden.
#[test]
fn paper_counts_equal_the_parameters_of_every_paper_form() {
    for kind in CellKind::ALL.into_iter().filter(|k| !k.has_builtin()) {
        for (d, h) in [(88, 46), (5, 5), (3, 7)] {
            let cell = new_cell(kind, &CellConfig::new(d, h), &mut Rng::new(0).unwrap()).unwrap();
            assert_eq!(
                cell.paper_param_count(),
                cell.param_count(),
                "{kind} at D={d} H={h}"
            );
        }
    }
    let count = |kind: CellKind, d, h| kind.paper_param_count(d, h);
    assert_eq!(count(CellKind::Mgu, 88, 62), 18_724);
    assert_eq!(count(CellKind::Mut1, 88, 51), 18_819);
    assert_eq!(count(CellKind::Mut2, 88, 46), 18_630);
    assert_eq!(count(CellKind::Mut3, 88, 46), 18_630);
    assert_eq!(count(CellKind::LstmCifg, 88, 46), 18_722);
    assert_eq!(count(CellKind::LstmNp, 88, 37), 18_648);
    assert_eq!(count(CellKind::LstmNiaf, 88, 37), 18_759);
    // The input map is the identity when D = H: no weight_x, MUT1 2Dn + 2n² + 3n.
    assert_eq!(count(CellKind::Mut1, 5, 5), 2 * 25 + 2 * 25 + 15);
}

/// MUT1 and MUT2 add the input itself where the paper has it (D = H) and a learned `weight_x` otherwise.
#[test]
fn mut1_and_mut2_project_the_input_only_when_its_size_differs() {
    for kind in [CellKind::Mut1, CellKind::Mut2] {
        let names = |d, h| -> Vec<&'static str> {
            let cell = new_cell(kind, &CellConfig::new(d, h), &mut Rng::new(0).unwrap()).unwrap();
            cell.named_parameters().iter().map(|(n, _)| *n).collect()
        };
        assert_eq!(names(4, 4), ["weight_ih", "weight_hh", "bias"], "{kind}");
        assert_eq!(
            names(88, 46),
            ["weight_ih", "weight_hh", "bias", "weight_x"],
            "{kind}"
        );
    }
    let cell = new_cell(
        CellKind::Mut3,
        &CellConfig::new(88, 46),
        &mut Rng::new(0).unwrap(),
    )
    .unwrap();
    assert_eq!(cell.named_parameters().len(), 3);
}

/// Finite differences at input ≠ hidden too (the validate check runs at input = hidden = 3): MUT1's and MUT2's
/// `weight_x` path, and every other unit at a second shape.
#[test]
fn every_cell_passes_finite_differences_at_input_other_than_hidden() {
    let s = Shape {
        seq: 3,
        batch: 2,
        input: 4,
        hidden: 3,
    };
    for kind in CellKind::ALL {
        let err = finite_difference_error_at(kind, s, Device::Cpu, 5).unwrap();
        assert!(
            err <= validate::FD_TOLERANCE,
            "{kind} at D=4 H=3: autograd vs finite differences {err:e}"
        );
    }
}

/// A unit the paper did not run is sized by the GRU's parameter budget.
#[test]
fn units_beyond_the_paper_get_the_grus_budget() {
    use rnnlab::paper::{table1_music_hidden, table1_speech_hidden};
    assert_eq!(table1_music_hidden(CellKind::PaperGru), 46);
    assert_eq!(table1_music_hidden(CellKind::TorchLstm), 36);
    assert_eq!(table1_music_hidden(CellKind::Mgu), 62);
    assert_eq!(table1_music_hidden(CellKind::Mut1), 51);
    assert_eq!(table1_music_hidden(CellKind::Mut3), 46);
    assert_eq!(table1_music_hidden(CellKind::LstmNp), 37);
    assert_eq!(table1_speech_hidden(CellKind::Mgu), 280);
}

fn bias_of(cell: &dyn rnnlab::cells::Cell, name: &str) -> Vec<f64> {
    let (_, t) = cell
        .named_parameters()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap();
    Vec::<f64>::try_from(t.detach().to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

/// `forget_bias` starts the forget gate's bias at its value (paper init: biases zero), leaves the other rows and
/// every other parameter as they were drawn, and is refused by units without a forget gate.
#[test]
fn forget_bias_sets_the_forget_gate_bias_of_every_lstm_form() {
    let h = 3;
    let cfg = |fb: f64| CellConfig {
        kind: Kind::Double,
        init: Init::Paper { scale: 0.1 },
        forget_bias: fb,
        ..CellConfig::new(4, h)
    };
    // (kind, bias block that carries it, sign)
    let cases = [
        (CellKind::PaperLstm, 1, 1.0),
        (CellKind::LstmNig, 0, 1.0),
        (CellKind::LstmNog, 1, 1.0),
        (CellKind::LstmNiaf, 1, 1.0),
        (CellKind::LstmNoaf, 1, 1.0),
        (CellKind::LstmNp, 1, 1.0),
        (CellKind::LstmCifg, 0, -1.0),
    ];
    for (kind, block, sign) in cases {
        let with = new_cell(kind, &cfg(1.0), &mut Rng::new(9).unwrap()).unwrap();
        let without = new_cell(kind, &cfg(0.0), &mut Rng::new(9).unwrap()).unwrap();
        let b = bias_of(with.as_ref(), "bias");
        for (j, v) in b.iter().enumerate() {
            let want = if j / h as usize == block { sign } else { 0.0 };
            assert_eq!(*v, want, "{kind} bias[{j}]");
        }
        for ((n, a), (_, z)) in with
            .named_parameters()
            .iter()
            .zip(without.named_parameters())
        {
            if *n != "bias" {
                assert_eq!(max_abs_diff(a, z), 0.0, "{kind} {n} changed");
            }
        }
    }
    // The torch form: bias_ih's forget rows shifted by exactly 1 from the same draw.
    let torch = |fb| {
        let c = CellConfig {
            init: Init::Torch,
            ..cfg(fb)
        };
        let cell = new_cell(CellKind::TorchLstm, &c, &mut Rng::new(9).unwrap()).unwrap();
        (
            bias_of(cell.as_ref(), "bias_ih"),
            bias_of(cell.as_ref(), "bias_hh"),
        )
    };
    let ((ih1, hh1), (ih0, hh0)) = (torch(1.0), torch(0.0));
    assert_eq!(hh1, hh0);
    for j in 0..ih1.len() {
        let shift = if j / h as usize == 1 { 1.0 } else { 0.0 };
        assert!(
            (ih1[j] - ih0[j] - shift).abs() < 1e-12,
            "torch_lstm bias_ih[{j}]"
        );
    }
    for kind in [
        CellKind::LstmNfg,
        CellKind::Mgu,
        CellKind::PaperGru,
        CellKind::Tanh,
        CellKind::Mut1,
    ] {
        let err = new_cell(kind, &cfg(1.0), &mut Rng::new(0).unwrap())
            .err()
            .unwrap_or_else(|| panic!("{kind} took a forget_bias"))
            .to_string();
        assert!(err.contains("forget gate"), "{kind}: {err}");
    }
    // The config refuses it before any cell is made.
    let set = |cell: &str| {
        rnnlab::config::TrainConfig::default()
            .with_overrides(&[format!("cell=\"{cell}\""), "forget_bias=1.0".into()])
    };
    assert!(set("paper_lstm").is_ok());
    assert!(set("lstm_cifg").is_ok());
    let err = format!("{:#}", set("mgu").unwrap_err());
    assert!(err.contains("forget gate"), "{err}");
}
