//! Boulanger-Lewandowski pickles (`<stem>.pickle`, or the upstream name such as `JSB Chorales.pickle`): a dict
//! `train`/`valid`/`test` → sequences → time steps → lists of MIDI note numbers 21..108. Decoded as *data* by
//! `serde-pickle`, which never executes pickle code; pickles that reference Python objects (numpy scalars) are
//! refused with a message saying how to re-save them.

use super::roll::{MusicData, PianoRoll};
use super::Split;
use anyhow::{anyhow, bail, ensure, Context, Result};

/// Parses a Boulanger-Lewandowski pickle held in memory.
pub fn parse_pickle(bytes: &[u8]) -> Result<MusicData> {
    use serde_pickle::{error::ErrorCode, Error, HashableValue, Value};
    let value = serde_pickle::value_from_slice(bytes, serde_pickle::DeOptions::new().decode_strings())
        .map_err(|e| match &e {
            Error::Syntax(ErrorCode::UnresolvedGlobal | ErrorCode::UnsupportedGlobal(..)) => anyhow!(
                "the pickle refers to Python objects ({e}), e.g. numpy integers; rnnlab never runs pickle code \
                 and reads only dicts of lists of plain ints. Re-save it in Python with \
                 `{{s: [[[int(n) for n in step] for step in seq] for seq in d[s]] for s in d}}`"
            ),
            _ => anyhow!("not a readable pickle: {e}"),
        })?;
    let Value::Dict(mut dict) = value else {
        bail!(
            "the pickle holds a {}, expected a dict with keys train, valid and test",
            value_kind(&value)
        );
    };
    let keys: Vec<String> = dict
        .keys()
        .map(|k| format!("{:?}", k.clone().into_value()))
        .collect();
    let mut data = MusicData::default();
    for split in Split::ALL {
        let key = [
            HashableValue::String(split.name().to_string()),
            HashableValue::Bytes(split.name().as_bytes().to_vec()),
        ]
        .into_iter()
        .find(|k| dict.contains_key(k));
        let Some(key) = key else {
            bail!(
                "missing key `{split}` (the dict has: {}; expected train, valid and test)",
                keys.join(", ")
            );
        };
        let sequences =
            as_list(dict.remove(&key).expect("checked")).with_context(|| format!("`{split}`"))?;
        ensure!(
            !sequences.is_empty(),
            "`{split}` is empty: the split has no sequences"
        );
        *data.split_mut(split) = sequences
            .into_iter()
            .enumerate()
            .map(|(i, seq)| pickle_roll(seq).with_context(|| format!("`{split}[{i}]`")))
            .collect::<Result<_>>()?;
    }
    Ok(data)
}

fn pickle_roll(seq: serde_pickle::Value) -> Result<PianoRoll> {
    let steps = as_list(seq)?;
    ensure!(!steps.is_empty(), "has no frames");
    let steps = steps
        .into_iter()
        .enumerate()
        .map(|(t, step)| {
            let notes = as_list(step).with_context(|| format!("frame {t}"))?;
            notes
                .into_iter()
                .map(|n| note_number(&n).with_context(|| format!("frame {t}")))
                .collect::<Result<Vec<i64>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    PianoRoll::from_notes(&steps)
}

fn note_number(v: &serde_pickle::Value) -> Result<i64> {
    use serde_pickle::Value;
    match v {
        Value::I64(n) => Ok(*n),
        Value::F64(x) if x.fract() == 0.0 && x.abs() < 1e6 => Ok(*x as i64),
        other => bail!(
            "note {other:?} is a {}, expected an integer MIDI number",
            value_kind(other)
        ),
    }
}

/// A list, tuple or set as a vector of values (sets as the notes of a frame are fine: order does not matter).
fn as_list(v: serde_pickle::Value) -> Result<Vec<serde_pickle::Value>> {
    use serde_pickle::{HashableValue, Value};
    match v {
        Value::List(v) | Value::Tuple(v) => Ok(v),
        Value::Set(s) | Value::FrozenSet(s) => {
            Ok(s.into_iter().map(HashableValue::into_value).collect())
        }
        other => bail!("is a {}, expected a list", value_kind(&other)),
    }
}

fn value_kind(v: &serde_pickle::Value) -> &'static str {
    use serde_pickle::Value;
    match v {
        Value::None => "None",
        Value::Bool(_) => "bool",
        Value::I64(_) | Value::Int(_) => "int",
        Value::F64(_) => "float",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "str",
        Value::List(_) => "list",
        Value::Tuple(_) => "tuple",
        Value::Set(_) | Value::FrozenSet(_) => "set",
        Value::Dict(_) => "dict",
    }
}
