//! What a tune run leaves in `--out`: `tune.safetensors` (the tuned blocks),
//! `head.safetensors` (the classifier, linked to them), `metrics.json`,
//! `history.csv`, `predictions.csv`: head-train's files, so `report`, `extract
//! predict` and `extract export` take a tune run where they take a head run.

use std::path::Path;

use backbone::efficientnet::{tuned_feature_layer, EfficientNetWeights};
use contract::head_file::{HeadFile, TuneLink};
use contract::metrics::{
    Activation, ClassWeight, FeaturesSummary, HeadMetrics, HeadOptions, HeadTiming, Optimizer,
    Resources, Storage, SweepGrid, TuneSummary, METRICS_SCHEMA_VERSION,
};
use contract::predictions::{PredictionRow, Predictions};
use contract::tune_file::{TuneFile, TUNE_FILE_NAME};
use tch::{Device, Kind, Tensor};

use crate::data::TuneData;
use crate::train::{TuneOptions, TunedRun};
use crate::{Result, TuneError};

fn values(tensor: &Tensor) -> Result<(Vec<usize>, Vec<f32>)> {
    let shape = tensor.size().iter().map(|&d| d as usize).collect();
    let flat = tensor
        .f_detach()?
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_flatten(0, -1)?;
    Ok((shape, Vec::<f32>::try_from(&flat)?))
}

impl TunedRun {
    /// Writes every output into `out` (created if needed), each atomically; the
    /// tune file first, since the head file names its blake3.
    pub fn write(
        &self,
        out: &Path,
        data: &TuneData,
        backbone: &EfficientNetWeights,
        options: &TuneOptions,
    ) -> Result<()> {
        std::fs::create_dir_all(out).map_err(|source| TuneError::Io {
            path: out.to_path_buf(),
            source,
        })?;
        let meta = &data.rows.meta;
        let cut = data.cut();
        let tensors = self
            .top
            .named_tensors()
            .into_iter()
            .map(|(name, tensor)| Ok((name, values(&tensor)?)))
            .collect::<Result<_>>()?;
        let tune = TuneFile {
            variant: meta.variant.clone(),
            family: backbone.family.map_or("timm", |f| f.name()).to_string(),
            weights: meta.weights.clone(),
            cut,
            batch_norm_updated: options.update_batch_norm,
            tensors,
        };
        let bytes = tune.write(&out.join(TUNE_FILE_NAME))?;
        let tune_blake3 = blake3::hash(&bytes).to_hex().to_string();
        let feature_layer = tuned_feature_layer(&cut, &tune_blake3);

        let (weight, bias) = self.top.classifier();
        let (weight_shape, weight) = values(weight)?;
        let (_, bias) = values(bias)?;
        HeadFile {
            classes: meta.classes.clone(),
            feature_dim: weight_shape[1],
            weight,
            bias,
            standardization: None,
            variant: meta.variant.clone(),
            feature_layer: feature_layer.clone(),
            preprocessing: meta.preprocessing.clone(),
            weights: meta.weights.clone(),
            weights_location: meta.weights_location().map(str::to_string),
            threshold: self.threshold,
            tune: Some(TuneLink {
                file: TUNE_FILE_NAME.to_string(),
                blake3: tune_blake3,
                cut,
            }),
        }
        .write(&out.join(contract::head_file::HEAD_FILE_NAME))?;

        let chosen = &self.candidates[self.chosen];
        contract::history::write(&out.join(contract::history::HISTORY_FILE), &chosen.history)?;
        Predictions {
            classes: meta.classes.clone(),
            rows: self
                .plan
                .evaluation
                .rows
                .iter()
                .enumerate()
                .map(|(i, &row)| PredictionRow {
                    key: data.rows.keys[row].clone(),
                    label: data.rows.labels[row],
                    probabilities: self.evaluation.row(i).to_vec(),
                })
                .collect(),
        }
        .write(&out.join(contract::predictions::PREDICTIONS_FILE))?;
        self.metrics_record(data, options, feature_layer, weight_shape[1])
            .write(&out.join(contract::metrics::METRICS_FILE))?;
        Ok(())
    }

    fn metrics_record(
        &self,
        data: &TuneData,
        options: &TuneOptions,
        feature_layer: String,
        feature_dim: usize,
    ) -> HeadMetrics {
        let meta = &data.rows.meta;
        let chosen = &self.candidates[self.chosen];
        let cut = data.cut();
        HeadMetrics {
            schema_version: METRICS_SCHEMA_VERSION,
            tool_version: format!("effprobe tune {}", env!("CARGO_PKG_VERSION")),
            inputs: data
                .rows
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            features: FeaturesSummary {
                variant: meta.variant.clone(),
                feature_dim,
                feature_layer,
                weights_source: meta.weights.source.clone(),
                weights_blake3: meta.weights.blake3.clone(),
                classes: meta.classes.clone(),
                rows: data.rows.keys.len(),
            },
            activation: if meta.classes.len() == 2 {
                Activation::Sigmoid
            } else {
                Activation::Softmax
            },
            roles: self.plan.roles(),
            options: HeadOptions {
                optimizer: Optimizer::Adamw,
                l2: None,
                standardize: false,
                class_weight: ClassWeight::None,
                epochs: options.epochs,
                batch_size: options.batch_size,
                lr: chosen.record.lr.unwrap_or(options.lr as f32),
                early_stop: options.early_stop,
                seed: options.seed,
                holdout: options.holdout,
                sweep: (!options.sweep_lr.is_empty()).then(|| SweepGrid {
                    lr: options.sweep_lr.iter().map(|&v| v as f32).collect(),
                    l2: Vec::new(),
                }),
                sweep_l2_auto: false,
                threshold: options.threshold,
                tol: HeadOptions::DEFAULT_TOL,
                max_iter: HeadOptions::DEFAULT_MAX_ITER,
                storage: Storage::F16,
            },
            class_weights: vec![1.0; meta.classes.len()],
            candidates: self.candidates.iter().map(|c| c.record.clone()).collect(),
            chosen: self.chosen,
            refit_on_fit_and_selection: false,
            threshold: (meta.classes.len() == 2).then_some(self.threshold),
            calibration_bins: metrics::calibration::CALIBRATION_BINS,
            splits: self.metrics.clone(),
            timing: HeadTiming {
                load_seconds: self.load_seconds,
                training_seconds: self.training_seconds,
                chosen_head_seconds: chosen.record.seconds,
                epochs_per_second: Some(
                    chosen.record.epochs as f64 / chosen.record.seconds.max(1e-12),
                ),
                evaluation_seconds: self.evaluation_seconds,
            },
            resources: Resources {
                threads: tch::get_num_threads().max(1) as usize,
                storage: Storage::F16,
                matrix_bytes: data.rows.keys.len() * cut.bytes_per_image(),
                peak_rss_bytes: contract::records::peak_rss_bytes(),
            },
            tune: Some(TuneSummary {
                cut,
                weight_decay: chosen.weight_decay,
                schedule: options.schedule.as_str().to_string(),
                update_batch_norm: options.update_batch_norm,
                device: match options.device {
                    Device::Cuda(i) => format!("cuda:{i}"),
                    _ => "cpu".to_string(),
                },
                trainable_parameters: self.top.parameter_count(),
                activations: data.store.dir().display().to_string(),
                sweep_weight_decay: options.sweep_weight_decay.clone(),
            }),
            partial_shards: data.rows.partial_shards.clone(),
        }
    }
}
