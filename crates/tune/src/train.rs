//! Training candidates (one, or a `--sweep` grid) over cached activations,
//! keeping the lowest selection loss, and scoring the kept one on every role.

use std::path::PathBuf;
use std::time::Instant;

use backbone::efficientnet::{EfficientNetWeights, TunableTop};
use contract::history::HistoryRow;
use contract::metrics::{CandidateRecord, SplitMetrics, ThresholdRule};
use feature_matrix::RolePlan;
use metrics::probabilities::{outputs_for, probabilities};
use metrics::rng::SplitMix64;
use metrics::roles::{score_roles, RolePredictions};
use metrics::Predictions;
use tch::{Device, Kind, Reduction, Tensor};

use crate::adamw::AdamW;
use crate::data::TuneData;
use crate::{Result, TuneError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Cosine decay from `lr` to 0 over every step (no warm-up).
    Cosine,
    Constant,
}

impl Schedule {
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Cosine => "cosine",
            Schedule::Constant => "constant",
        }
    }

    fn lr(self, base: f64, step: usize, total: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Cosine => {
                let progress = step as f64 / total.max(1) as f64;
                0.5 * base * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct TuneOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    pub update_batch_norm: bool,
    /// Stop after this many epochs without a lower selection loss, keeping the best.
    pub early_stop: Option<usize>,
    pub seed: u64,
    pub holdout: Option<f64>,
    /// `--sweep lr=…`: empty keeps `lr`.
    pub sweep_lr: Vec<f64>,
    /// `--sweep weight-decay=…`: empty keeps `weight_decay`.
    pub sweep_weight_decay: Vec<f64>,
    pub threshold: ThresholdRule,
    pub device: Device,
    /// Where the activations are (default: the folder the feature file records).
    pub activations: Option<PathBuf>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            epochs: 10,
            batch_size: 32,
            lr: 1e-3,
            weight_decay: 0.01,
            schedule: Schedule::Cosine,
            update_batch_norm: false,
            early_stop: None,
            seed: 0,
            holdout: None,
            sweep_lr: Vec::new(),
            sweep_weight_decay: Vec::new(),
            threshold: ThresholdRule::Fixed(0.5),
            device: Device::Cpu,
            activations: None,
        }
    }
}

impl TuneOptions {
    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(TuneError::InvalidOption(m));
        if self.epochs == 0 || self.batch_size == 0 {
            return bad("--epochs and --tune-batch-size must be at least 1".into());
        }
        for lr in std::iter::once(&self.lr).chain(&self.sweep_lr) {
            if !(*lr > 0.0 && lr.is_finite()) {
                return bad(format!("learning rates must be finite and > 0, got {lr}"));
            }
        }
        for wd in std::iter::once(&self.weight_decay).chain(&self.sweep_weight_decay) {
            if !(*wd >= 0.0 && wd.is_finite()) {
                return bad(format!("weight decay must be finite and >= 0, got {wd}"));
            }
        }
        if self.early_stop == Some(0) {
            return bad("--early-stop must be at least 1".into());
        }
        Ok(())
    }

    /// Every (lr, weight decay) pair of the grid, in training order.
    pub fn grid(&self) -> Vec<(f64, f64)> {
        let lrs = if self.sweep_lr.is_empty() {
            vec![self.lr]
        } else {
            self.sweep_lr.clone()
        };
        let wds = if self.sweep_weight_decay.is_empty() {
            vec![self.weight_decay]
        } else {
            self.sweep_weight_decay.clone()
        };
        lrs.iter()
            .flat_map(|&lr| wds.iter().map(move |&wd| (lr, wd)))
            .collect()
    }
}

pub struct Candidate {
    pub record: CandidateRecord,
    pub weight_decay: f64,
    pub history: Vec<HistoryRow>,
}

/// A finished run: the kept top and everything `--out` records of it.
pub struct TunedRun {
    pub top: TunableTop,
    pub plan: RolePlan,
    pub candidates: Vec<Candidate>,
    pub chosen: usize,
    pub threshold: f64,
    pub metrics: Vec<SplitMetrics>,
    /// The evaluation split's probabilities, per row in the plan's order.
    pub evaluation: Predictions,
    pub load_seconds: f64,
    pub training_seconds: f64,
    pub evaluation_seconds: f64,
}

/// Class probabilities of `rows`, the top in evaluation mode.
pub fn predict(
    top: &TunableTop,
    data: &TuneData,
    rows: &[usize],
    batch_size: usize,
    device: Device,
) -> Result<Predictions> {
    let classes = data.rows.classes();
    let mut probs = Vec::with_capacity(rows.len() * classes);
    for batch in rows.chunks(batch_size.max(1)) {
        let logits = tch::no_grad(|| {
            top.logits(&data.batch(batch, device)?, false)
                .map_err(TuneError::from)
        })?;
        let logits: Vec<f64> = Vec::<f64>::try_from(
            &logits
                .f_to_kind(Kind::Double)?
                .f_to_device(Device::Cpu)?
                .f_flatten(0, -1)?,
        )?;
        let mut row_probs = vec![0.0; classes];
        for (z, &row) in logits.chunks_exact(outputs_for(classes)).zip(batch) {
            let label = data.rows.labels[row] as usize;
            probabilities(z, label, &mut row_probs);
            probs.extend_from_slice(&row_probs);
        }
    }
    Ok(Predictions {
        classes,
        probs,
        labels: rows.iter().map(|&r| data.rows.labels[r]).collect(),
    })
}

fn loss(logits: &Tensor, labels: &Tensor, classes: usize) -> Result<Tensor> {
    Ok(if classes == 2 {
        logits
            .f_squeeze_dim(1)?
            .f_binary_cross_entropy_with_logits::<Tensor>(
                &labels.f_to_kind(Kind::Float)?,
                None,
                None,
                Reduction::Mean,
            )?
    } else {
        logits
            .f_log_softmax(-1, Kind::Float)?
            .f_nll_loss::<Tensor>(labels, None, Reduction::Mean, -100)?
    })
}

struct Fit<'a> {
    data: &'a TuneData,
    plan: &'a RolePlan,
    options: &'a TuneOptions,
    backbone: &'a EfficientNetWeights,
}

impl Fit<'_> {
    fn candidate(&self, lr: f64, weight_decay: f64) -> Result<(Candidate, TunableTop)> {
        let started = Instant::now();
        let o = self.options;
        let classes = self.data.rows.classes();
        let device = o.device;
        let mut top = self
            .backbone
            .top(self.data.cut(), outputs_for(classes), o.seed, device)?;
        top.update_batch_norm = o.update_batch_norm;
        let mut optimizer = AdamW::new(top.parameters(), weight_decay)?;
        let fit = &self.plan.fit.rows;
        let selection = &self.plan.selection.rows;
        let steps_per_epoch = fit.len().div_ceil(o.batch_size);
        let total_steps = steps_per_epoch * o.epochs;
        let mut rng = SplitMix64::new(o.seed, 0x7475_6e65);
        let mut order = fit.clone();
        let mut history = Vec::new();
        let mut best: Option<(f64, f64, usize, Vec<Tensor>)> = None;
        let mut since_best = 0;
        let mut step = 0;
        let mut epochs_run = 0;
        for epoch in 1..=o.epochs {
            rng.shuffle(&mut order);
            let (mut loss_sum, mut correct) = (0.0, 0usize);
            for batch in order.chunks(o.batch_size) {
                let x = self.data.batch(batch, device)?;
                let labels: Vec<i64> = batch
                    .iter()
                    .map(|&r| i64::from(self.data.rows.labels[r]))
                    .collect();
                let labels = Tensor::f_from_slice(&labels)?.f_to_device(device)?;
                let logits = top.logits(&x, true)?;
                let batch_loss = loss(&logits, &labels, classes)?;
                optimizer.zero_grad();
                batch_loss.f_backward()?;
                optimizer.step(o.schedule.lr(lr, step, total_steps))?;
                step += 1;
                // Measured on each batch before its update, as Keras and head-train report it.
                loss_sum += batch_loss.f_double_value(&[])? * batch.len() as f64;
                let predicted = tch::no_grad(|| -> Result<Tensor> {
                    Ok(if classes == 2 {
                        logits.f_squeeze_dim(1)?.f_ge(0.0)?.f_to_kind(Kind::Int64)?
                    } else {
                        logits.f_argmax(-1, false)?
                    })
                })?;
                correct += predicted
                    .f_eq_tensor(&labels)?
                    .f_sum(Kind::Int64)?
                    .f_int64_value(&[])? as usize;
            }
            epochs_run = epoch;
            let predictions = predict(&top, self.data, selection, o.batch_size.max(64), device)?;
            let val_loss = predictions.log_loss();
            let val_accuracy = predictions.correct(0.5) as f64 / predictions.len().max(1) as f64;
            history.push(HistoryRow {
                step: epoch,
                train_loss: loss_sum / fit.len().max(1) as f64,
                train_accuracy: correct as f64 / fit.len().max(1) as f64,
                val_loss,
                val_accuracy,
                objective: None,
                gradient_max: None,
                seconds: started.elapsed().as_secs_f64(),
            });
            let improved = best.as_ref().is_none_or(|(loss, ..)| val_loss < *loss);
            if improved {
                let snapshot = if o.early_stop.is_some() {
                    top.snapshot()?
                } else {
                    Vec::new()
                };
                best = Some((val_loss, val_accuracy, epoch, snapshot));
                since_best = 0;
            } else {
                since_best += 1;
            }
            if o.early_stop.is_some_and(|patience| since_best >= patience) {
                break;
            }
        }
        let (mut selection_loss, mut selection_accuracy, mut best_epoch) =
            history.last().map_or((f64::NAN, f64::NAN, 0), |h| {
                (h.val_loss, h.val_accuracy, h.step)
            });
        if o.early_stop.is_some() {
            if let Some((loss, accuracy, epoch, snapshot)) = &best {
                top.restore(snapshot)?;
                (selection_loss, selection_accuracy, best_epoch) = (*loss, *accuracy, *epoch);
            }
        }
        let record = CandidateRecord {
            lr: Some(lr as f32),
            l2: 0.0,
            selection_loss,
            selection_accuracy,
            epochs: epochs_run,
            best_epoch,
            iterations: None,
            converged: None,
            objective: None,
            gradient_max: None,
            seconds: started.elapsed().as_secs_f64(),
        };
        Ok((
            Candidate {
                record,
                weight_decay,
                history,
            },
            top,
        ))
    }
}

/// Trains every candidate of the grid, keeps the lowest selection loss, scores it.
pub fn train(
    data: &TuneData,
    backbone: &EfficientNetWeights,
    options: &TuneOptions,
    load_seconds: f64,
) -> Result<TunedRun> {
    options.check()?;
    let rows = &data.rows;
    metrics::threshold::check_rule(options.threshold, rows.classes())?;
    let plan = RolePlan::new(
        &rows.splits,
        &rows.labels,
        &rows.key_hashes,
        &rows.meta.classes,
        options.holdout,
    )?;
    let training = Instant::now();
    let fit = Fit {
        data,
        plan: &plan,
        options,
        backbone,
    };
    let mut candidates = Vec::new();
    let mut kept: Option<(usize, TunableTop)> = None;
    for (lr, weight_decay) in options.grid() {
        let (candidate, top) = fit.candidate(lr, weight_decay)?;
        let better = kept.as_ref().is_none_or(|(index, _)| {
            let best: &Candidate = &candidates[*index];
            candidate.record.selection_loss < best.record.selection_loss
        });
        candidates.push(candidate);
        if better {
            kept = Some((candidates.len() - 1, top));
        }
    }
    let (chosen, top) = kept.expect("the grid has at least one candidate");
    let training_seconds = training.elapsed().as_secs_f64();

    let evaluation_started = Instant::now();
    let batch = options.batch_size.max(64);
    let device = options.device;
    let selection = predict(&top, data, &plan.selection.rows, batch, device)?;
    let fit_predictions = predict(&top, data, &plan.fit.rows, batch, device)?;
    let evaluation = predict(&top, data, &plan.evaluation.rows, batch, device)?;
    let scored = score_roles(
        RolePredictions::new(&plan.fit.split, &fit_predictions),
        RolePredictions::new(&plan.selection.split, &selection),
        RolePredictions::new(&plan.evaluation.split, &evaluation),
        options.threshold,
        &rows.meta.classes,
    )?;
    let (threshold, metrics) = (scored.threshold, scored.metrics);
    Ok(TunedRun {
        top,
        plan,
        candidates,
        chosen,
        threshold,
        metrics,
        evaluation,
        load_seconds,
        training_seconds,
        evaluation_seconds: evaluation_started.elapsed().as_secs_f64(),
    })
}
