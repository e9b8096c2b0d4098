//! The checkpoint's tensors (`checkpoint/last.safetensors`): every model parameter under its model name
//! (`rnn.weight_ih`, …, `out.bias`; leading `[K]`), the best weights so far as `best.<name>`, RMSProp's state as
//! `opt.mean_square.<name>` and `opt.velocity.<name>`, and the epoch they belong to as `meta.epoch`.

use super::{RunDir, TrainState};
use crate::config::TrainConfig;
use crate::model::Model;
use crate::rng::Rng;
use anyhow::{ensure, Context, Result};
use tch::{Device, Tensor};

/// The epoch the tensors hold, a one-element int64 tensor (checked against `state.json`).
pub const META_EPOCH: &str = "meta.epoch";

/// The name of a parameter's best weights.
pub fn best_name(param: &str) -> String {
    format!("best.{param}")
}

/// The name of a parameter's RMSProp mean square.
pub fn mean_square_name(param: &str) -> String {
    format!("opt.mean_square.{param}")
}

/// The name of a parameter's RMSProp velocity (momentum).
pub fn velocity_name(param: &str) -> String {
    format!("opt.velocity.{param}")
}

/// The tensor named `name` among a checkpoint's.
pub fn find<'a>(tensors: &'a [(String, Tensor)], name: &str) -> Result<&'a Tensor> {
    tensors
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t)
        .with_context(|| format!("the checkpoint lacks {name}"))
}

/// Copies a checkpoint tensor into `dst` in place (call under `no_grad`); the shapes must agree. `what` names the
/// parameter in the error.
pub fn copy_into(dst: &Tensor, src: &Tensor, what: &str) -> Result<()> {
    ensure!(
        dst.size() == src.size(),
        "checkpoint {what} has shape {:?}, the model needs {:?} (was the config changed?)",
        src.size(),
        dst.size()
    );
    dst.shallow_clone().f_copy_(src)?;
    Ok(())
}

impl RunDir {
    /// The run's models at their best weights (`best.*` of the last checkpoint), every member, on `device`: weights
    /// only, no optimizer state. Returns the checkpoint's state beside them (its members' early-stopping records).
    pub fn load_best_model(
        &self,
        cfg: &TrainConfig,
        device: Device,
    ) -> Result<(Model, TrainState)> {
        let (tensors, state) = self.load_checkpoint()?;
        // The initial draws are overwritten by the checkpoint's tensors: any seed will do.
        let model = Model::new(&cfg.model_config(device)?, &mut Rng::new(cfg.seed)?)?;
        tch::no_grad(|| -> Result<()> {
            for (name, p) in model.named_parameters() {
                copy_into(p, find(&tensors, &best_name(&name))?, &name)?;
            }
            Ok(())
        })?;
        Ok((model, state))
    }
}
