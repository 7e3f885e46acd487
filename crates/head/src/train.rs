//! From loaded features to a chosen, evaluated head: roles, standardisation,
//! class weights, one head or a grid of heads, selection on the selection split,
//! threshold, and metrics on every role's split.

use std::path::PathBuf;
use std::time::Instant;

use half::{bf16, f16};
use rayon::prelude::*;

use crate::model::{predict, Head};
use crate::objective::{head_from_params, params_from_head, FullBatch};
use crate::optim::adam::{glorot_uniform, Adam, AdamConfig};
use crate::optim::lbfgs::{minimize, LbfgsConfig};
use crate::standardize::Standardization;
use crate::{HeadError, Result};
use contract::MissingShards;
use feature_matrix::load::{load_features_with, LoadedFeatures};
use feature_matrix::matrix::{Element, Matrix, Storage};
use feature_matrix::roles::RolePlan;
use metrics::roles::{score_roles, RolePredictions};
use metrics::SplitMetrics;

pub use contract::history::HistoryRow;
use contract::metrics::CandidateRecord;
pub use contract::metrics::{
    ClassWeight, HeadOptions as TrainOptions, Optimizer, SweepGrid, ThresholdRule,
};

/// One trained head of a sweep (or the only one): what `metrics.json` records
/// of it, its weights and its curve.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub record: CandidateRecord,
    pub head: Head,
    pub history: Vec<HistoryRow>,
}

/// The outcome of a run: what is written to `--out`.
#[derive(Clone, Debug)]
pub struct TrainedRun {
    pub head: Head,
    pub standardization: Option<Standardization>,
    pub threshold: f64,
    pub plan: RolePlan,
    pub candidates: Vec<Candidate>,
    pub chosen: usize,
    /// True when the chosen L2 was refit on fit ∪ selection (`--sweep-l2 auto`).
    pub refit: bool,
    pub class_weights: Vec<f64>,
    pub metrics: Vec<SplitMetrics>,
    pub history: Vec<HistoryRow>,
    /// The kept head's probabilities for every evaluation row.
    pub evaluation: contract::predictions::Predictions,
    pub meta: contract::FeatureMeta,
    pub inputs: Vec<PathBuf>,
    /// Shard folders read with shards missing (`--allow-partial`).
    pub partial_shards: Vec<contract::metrics::PartialShards>,
    pub rows_loaded: usize,
    pub matrix_bytes: usize,
    pub load_seconds: f64,
    pub training_seconds: f64,
    pub evaluation_seconds: f64,
}

/// Loads `inputs` in the requested storage and trains; shard folders must be complete.
pub fn train(inputs: &[PathBuf], options: &TrainOptions) -> Result<TrainedRun> {
    train_with(inputs, MissingShards::Refuse, options)
}

/// [`train`], with `missing` saying whether shard folders may have gaps
/// (`--allow-partial`).
pub fn train_with(
    inputs: &[PathBuf],
    missing: MissingShards,
    options: &TrainOptions,
) -> Result<TrainedRun> {
    check_options(options)?;
    let start = Instant::now();
    match options.storage {
        Storage::F32 => train_loaded(load_features_with::<f32>(inputs, missing)?, options, start),
        Storage::F16 => train_loaded(load_features_with::<f16>(inputs, missing)?, options, start),
        Storage::Bf16 => train_loaded(load_features_with::<bf16>(inputs, missing)?, options, start),
    }
}

fn check_options(options: &TrainOptions) -> Result<()> {
    let bad = |m: String| Err(HeadError::InvalidOption(m));
    if options.optimizer == Optimizer::Adamw {
        return bad("adamw trains top blocks over activations: that is tune-train's".into());
    }
    if let Some(l2) = options.l2.filter(|l2| !(*l2 >= 0.0 && l2.is_finite())) {
        return bad(format!("--l2 must be a finite number >= 0, got {l2}"));
    }
    if options.optimizer == Optimizer::Adam {
        if options.epochs == 0 || options.batch_size == 0 {
            return bad("--epochs and --head-batch-size must be at least 1".into());
        }
        if !(options.lr > 0.0 && options.lr.is_finite()) {
            return bad(format!("--lr must be positive, got {}", options.lr));
        }
    }
    if options.sweep_l2_auto && (options.optimizer != Optimizer::Lbfgs || options.sweep.is_some()) {
        return bad(
            "--sweep-l2 auto uses the full-batch solver: pass --optimizer lbfgs and no --sweep"
                .into(),
        );
    }
    if let Some(grid) = &options.sweep {
        if options.optimizer == Optimizer::Lbfgs && !grid.lr.is_empty() {
            return bad("the full-batch solver has no learning rate: sweep only l2".into());
        }
        if grid.l2.iter().any(|l| !(*l >= 0.0 && l.is_finite()))
            || grid.lr.iter().any(|l| !(*l > 0.0 && l.is_finite()))
        {
            return bad("sweep values must be finite, lr > 0 and l2 >= 0".into());
        }
    }
    if options.early_stop == Some(0) {
        return bad("--early-stop needs a patience of at least 1 epoch".into());
    }
    metrics::threshold::check_value(options.threshold)?;
    if options.tol.is_nan() || options.tol <= 0.0 || options.max_iter == 0 {
        return bad("--tol must be positive and --max-iter at least 1".into());
    }
    Ok(())
}

/// `balanced`: `n / (K · n_c)` over the fitting rows (1 for classes absent there).
pub fn class_weights(
    kind: ClassWeight,
    labels: &[u32],
    rows: &[usize],
    classes: usize,
) -> Vec<f64> {
    match kind {
        ClassWeight::None => vec![1.0; classes],
        ClassWeight::Balanced => {
            let mut counts = vec![0usize; classes];
            for &r in rows {
                counts[labels[r] as usize] += 1;
            }
            counts
                .iter()
                .map(|&c| {
                    if c == 0 {
                        1.0
                    } else {
                        rows.len() as f64 / (classes * c) as f64
                    }
                })
                .collect()
        }
    }
}

/// Trains on already loaded features (the library entry point for tests and
/// embedders); `start` is when loading began.
pub fn train_loaded<T: Element>(
    mut features: LoadedFeatures<T>,
    options: &TrainOptions,
    start: Instant,
) -> Result<TrainedRun> {
    check_options(options)?;
    let classes = features.classes();
    metrics::threshold::check_rule(options.threshold, classes)?;
    let plan = RolePlan::new(
        &features.splits,
        &features.labels,
        &features.key_hashes,
        &features.meta.classes,
        options.holdout,
    )?;
    let load_seconds = start.elapsed().as_secs_f64();
    let training_start = Instant::now();

    let standardization = options.standardize.then(|| {
        let stats = Standardization::fit(&features.matrix, &plan.fit.rows);
        stats.apply(&mut features.matrix);
        stats
    });
    let weights = class_weights(
        options.class_weight,
        &features.labels,
        &plan.fit.rows,
        classes,
    );
    let context = Context {
        matrix: &features.matrix,
        labels: &features.labels,
        plan: &plan,
        class_weights: &weights,
        classes,
        options,
    };

    let (candidates, chosen, head, refit) = if options.sweep_l2_auto {
        context.clip_l2_search()
    } else {
        let grid = options.sweep.clone().unwrap_or_default();
        let lrs = if grid.lr.is_empty() {
            vec![options.lr]
        } else {
            grid.lr.clone()
        };
        let l2s = if grid.l2.is_empty() {
            vec![options.l2_for(plan.fit.rows.len())]
        } else {
            grid.l2.clone()
        };
        let settings: Vec<(f32, f64)> = lrs
            .iter()
            .flat_map(|&lr| l2s.iter().map(move |&l2| (lr, l2)))
            .collect();
        let candidates: Vec<Candidate> = settings
            .par_iter()
            .map(|&(lr, l2)| context.fit_candidate(lr, l2, None))
            .collect();
        let chosen = best_candidate(&candidates);
        let head = candidates[chosen].head.clone();
        (candidates, chosen, head, false)
    };
    let training_seconds = training_start.elapsed().as_secs_f64();

    let evaluation_start = Instant::now();
    let predictions_of = |rows: &[usize]| predict(&head, &features.matrix, rows, &features.labels);
    // After a refit the kept head has seen the selection rows, so its selection
    // scores would be in-sample: selection is scored (and a val-f1 threshold
    // picked) with the head chosen before the refit, which never saw them.
    let selection_predictions = if refit {
        predict(
            &candidates[chosen].head,
            &features.matrix,
            &plan.selection.rows,
            &features.labels,
        )
    } else {
        predictions_of(&plan.selection.rows)
    };
    let fit_predictions = predictions_of(&plan.fit.rows);
    // The evaluation split is scored once, for the chosen head only.
    let evaluation_predictions = predictions_of(&plan.evaluation.rows);
    let scored = score_roles(
        RolePredictions::new(&plan.fit.split, &fit_predictions),
        RolePredictions::new(&plan.selection.split, &selection_predictions),
        RolePredictions::new(&plan.evaluation.split, &evaluation_predictions),
        options.threshold,
        &features.meta.classes,
    )?;
    let (threshold, metrics) = (scored.threshold, scored.metrics);
    let evaluation_seconds = evaluation_start.elapsed().as_secs_f64();
    let evaluation = contract::predictions::Predictions {
        classes: features.meta.classes.clone(),
        rows: plan
            .evaluation
            .rows
            .iter()
            .enumerate()
            .map(|(i, &row)| contract::predictions::PredictionRow {
                key: features.keys[row].clone(),
                label: features.labels[row],
                probabilities: evaluation_predictions.row(i).to_vec(),
            })
            .collect(),
    };

    let history = candidates[chosen].history.clone();
    Ok(TrainedRun {
        head,
        standardization,
        threshold,
        candidates,
        chosen,
        refit,
        class_weights: weights,
        metrics,
        history,
        evaluation,
        rows_loaded: features.labels.len(),
        matrix_bytes: features.matrix.bytes(),
        meta: features.meta,
        inputs: features.inputs,
        partial_shards: features.partial_shards,
        plan,
        load_seconds,
        training_seconds,
        evaluation_seconds,
    })
}

/// Lowest selection loss; the first on ties; NaN never wins.
fn best_candidate(candidates: &[Candidate]) -> usize {
    let mut best = 0;
    for (i, c) in candidates.iter().enumerate() {
        let current = candidates[best].record.selection_loss;
        let loss = c.record.selection_loss;
        if loss < current || (current.is_nan() && !loss.is_nan()) {
            best = i;
        }
    }
    best
}

struct Context<'a, T> {
    matrix: &'a Matrix<T>,
    labels: &'a [u32],
    plan: &'a RolePlan,
    class_weights: &'a [f64],
    classes: usize,
    options: &'a TrainOptions,
}

impl<T: Element> Context<'_, T> {
    /// Log-loss and accuracy (at threshold 0.5) on the selection rows.
    fn selection_score(&self, head: &Head) -> (f64, f64) {
        let predictions = predict(head, self.matrix, &self.plan.selection.rows, self.labels);
        (
            predictions.log_loss(),
            predictions.correct(0.5) as f64 / predictions.len().max(1) as f64,
        )
    }

    fn fit_candidate(&self, lr: f32, l2: f64, warm_start: Option<&Head>) -> Candidate {
        match self.options.optimizer {
            Optimizer::Adam => self.fit_adam(lr, l2),
            Optimizer::Lbfgs => self.fit_lbfgs(l2, &self.plan.fit.rows, warm_start),
            Optimizer::Adamw => unreachable!("check_options refuses adamw"),
        }
    }

    fn fit_adam(&self, lr: f32, l2: f64) -> Candidate {
        let started = Instant::now();
        let o = self.options;
        let config = AdamConfig {
            lr,
            l2: l2 as f32,
            epochs: o.epochs,
            batch_size: o.batch_size,
            ..AdamConfig::default()
        };
        let initial = glorot_uniform(self.classes, self.matrix.dim(), o.seed);
        let mut adam = Adam::new(
            config,
            o.seed,
            initial,
            self.matrix,
            &self.plan.fit.rows,
            self.labels,
            self.class_weights,
        );
        let mut history = Vec::with_capacity(o.epochs);
        let mut best: Option<(f64, f64, usize, Head)> = None;
        while adam.epochs_done() < o.epochs {
            let stats = adam.run_epoch();
            let (val_loss, val_accuracy) = self.selection_score(&adam.head);
            history.push(HistoryRow {
                step: stats.epoch,
                train_loss: stats.log_loss,
                train_accuracy: stats.accuracy,
                val_loss,
                val_accuracy,
                objective: None,
                gradient_max: None,
                seconds: started.elapsed().as_secs_f64(),
            });
            let Some(patience) = o.early_stop else {
                continue;
            };
            if best.as_ref().is_none_or(|b| val_loss < b.0) {
                best = Some((val_loss, val_accuracy, stats.epoch, adam.head.clone()));
            } else if stats.epoch - best.as_ref().map_or(0, |b| b.2) >= patience {
                break;
            }
        }
        let epochs = adam.epochs_done();
        let (selection_loss, selection_accuracy, best_epoch, head) = match best {
            Some(kept) => kept,
            None => {
                let last = history
                    .last()
                    .map_or((f64::NAN, 0.0), |h| (h.val_loss, h.val_accuracy));
                (last.0, last.1, epochs, adam.head.clone())
            }
        };
        Candidate {
            record: CandidateRecord {
                lr: Some(lr),
                l2,
                selection_loss,
                selection_accuracy,
                epochs,
                best_epoch,
                iterations: None,
                converged: None,
                objective: None,
                gradient_max: None,
                seconds: started.elapsed().as_secs_f64(),
            },
            head,
            history,
        }
    }

    fn fit_lbfgs(&self, l2: f64, rows: &[usize], warm_start: Option<&Head>) -> Candidate {
        let started = Instant::now();
        let dim = self.matrix.dim();
        let mut problem = FullBatch::new(
            self.matrix,
            rows,
            &self.plan.selection.rows,
            self.labels,
            self.class_weights,
            l2,
        );
        let theta = warm_start
            .map(params_from_head)
            .unwrap_or_else(|| vec![0.0; problem.num_params()]);
        let mut gradient = vec![0.0; theta.len()];
        let (evaluation, preconditioner) =
            problem.evaluate_with_preconditioner(&theta, &mut gradient);
        let config = LbfgsConfig {
            tol: self.options.tol,
            max_iter: self.options.max_iter,
            ..LbfgsConfig::default()
        };
        let mut history = Vec::new();
        // The selection split's columns come from the same passes as the objective.
        let outcome = minimize(
            theta,
            Some((evaluation, gradient)),
            &preconditioner,
            config,
            |t, g| problem.evaluate(t, g),
            |progress| {
                history.push(HistoryRow {
                    step: progress.iteration,
                    train_loss: progress.evaluation.log_loss,
                    train_accuracy: progress.evaluation.accuracy,
                    val_loss: progress.evaluation.selection_loss,
                    val_accuracy: progress.evaluation.selection_accuracy,
                    objective: Some(progress.evaluation.objective),
                    gradient_max: Some(progress.gradient_max),
                    seconds: started.elapsed().as_secs_f64(),
                });
            },
        );
        let mut theta = outcome.theta;
        center_softmax_bias(&mut theta, self.classes, dim);
        let head = head_from_params(&theta, self.classes, dim);
        let (selection_loss, selection_accuracy) = self.selection_score(&head);
        Candidate {
            record: CandidateRecord {
                lr: None,
                l2,
                selection_loss,
                selection_accuracy,
                epochs: 0,
                best_epoch: 0,
                iterations: Some(outcome.iterations),
                converged: Some(outcome.converged),
                objective: Some(outcome.evaluation.objective),
                gradient_max: Some(outcome.gradient_max),
                seconds: started.elapsed().as_secs_f64(),
            },
            head,
            history,
        }
    }

    /// CLIP's linear-probe protocol (Radford et al. 2021, appendix A.3): L2
    /// strengths 1e6, 1e5, …, 1e-6, each warm-started from the previous, then
    /// three rounds of halving the log step around the best, then a refit of the
    /// winner on fit ∪ selection. Returns (candidates, chosen, final head, refit).
    fn clip_l2_search(&self) -> (Vec<Candidate>, usize, Head, bool) {
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut warm: Option<Head> = None;
        for exponent in (-6..=6).rev() {
            let candidate =
                self.fit_lbfgs(10f64.powi(exponent), &self.plan.fit.rows, warm.as_ref());
            warm = Some(candidate.head.clone());
            candidates.push(candidate);
        }
        let mut step = 1.0f64;
        for _ in 0..3 {
            step /= 2.0;
            let best = best_candidate(&candidates);
            let center = candidates[best].record.l2.log10();
            let start = candidates[best].head.clone();
            for exponent in [center - step, center + step] {
                let l2 = 10f64.powf(exponent);
                if candidates
                    .iter()
                    .all(|c| (c.record.l2.log10() - exponent).abs() > 1e-9)
                {
                    candidates.push(self.fit_lbfgs(l2, &self.plan.fit.rows, Some(&start)));
                }
            }
        }
        let chosen = best_candidate(&candidates);
        let mut refit_rows = self.plan.fit.rows.clone();
        refit_rows.extend_from_slice(&self.plan.selection.rows);
        refit_rows.sort_unstable();
        let refit = self.fit_lbfgs(
            candidates[chosen].record.l2,
            &refit_rows,
            Some(&candidates[chosen].head),
        );
        (candidates, chosen, refit.head, true)
    }
}

/// With K softmax logits and an unpenalised bias, adding a constant to every bias
/// changes nothing; centring them picks the representative scikit-learn reports.
fn center_softmax_bias(theta: &mut [f64], classes: usize, dim: usize) {
    if classes > 2 {
        let biases = &mut theta[classes * dim..];
        let mean = biases.iter().sum::<f64>() / classes as f64;
        biases.iter_mut().for_each(|b| *b -= mean);
    }
}
