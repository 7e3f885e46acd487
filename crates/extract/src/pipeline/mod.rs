//! The extract pipeline: each image's bytes are decoded once, resized once per
//! input size, and run through each backbone that does not already hold its
//! features in the cache.
//!
//! Decoding runs on all cores (rayon) and feeds a bounded channel; the calling
//! thread batches and runs the backbones, so CPU work overlaps the forward passes
//! and memory stays bounded. Results are committed to the cache in chunks by
//! atomic rename: a crash loses at most the chunk in flight, and a rerun resumes.

mod activation_cache;
mod admit;
pub mod batcher;
mod cache;
mod completion;
pub mod lock;
mod progress;
pub mod shard;
pub mod status;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use contract::activations::ActivationMeta;
use contract::rejects::Reject;
use contract::run_record::{ActivationRecord, RunRecord, VariantRecord, RUN_RECORD_SCHEMA_VERSION};
use contract::{
    extra, FeatureFileError, FeatureMeta, FeatureRow, FeatureWriter, RecordError, ShardRecord,
};

use activation_cache::ActivationCache;
pub use backbone::{Backbone, BackboneError};
pub use batcher::{run_batches, BatchStats, Work, DEFAULT_CHUNK_ROWS};
pub use cache::FeatureCache;
pub use progress::{Progress, ProgressMode};
pub use shard::{ResolvedShard, Shard, ShardChoice, ShardError};

use crate::preprocess::DecodeLimits;
use dataset::{ImageEntry, ScanReport};

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    FeatureFile(#[from] FeatureFileError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("another extract is already writing to {dir} ({holder}); wait for it or choose another --out")]
    AlreadyRunning { dir: PathBuf, holder: String },
    #[error("backbone {variant} failed: {source} (every feature computed so far is committed to the cache)")]
    Backbone {
        variant: String,
        source: BackboneError,
    },
    #[error("activation cache: {0}")]
    Activations(String),
    #[error("variant {0} is requested twice")]
    DuplicateVariant(String),
    #[error("{count} file(s) rejected and --strict is set; see {path}")]
    StrictRejects { count: usize, path: PathBuf },
}

#[derive(Clone, Debug)]
pub struct ExtractOptions {
    pub out_dir: PathBuf,
    pub shard: Option<Shard>,
    /// Where `shard` came from (`--shard auto`'s variables), for its completion
    /// records; `None`: `--shard K/N`.
    pub shard_from: Option<String>,
    pub limits: DecodeLimits,
    /// Rows per committed cache chunk: the most a crash can lose.
    pub chunk_rows: usize,
    pub strict: bool,
    pub progress: ProgressMode,
}

impl ExtractOptions {
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        ExtractOptions {
            out_dir: out_dir.into(),
            shard: None,
            shard_from: None,
            limits: DecodeLimits::default(),
            chunk_rows: DEFAULT_CHUNK_ROWS,
            strict: false,
            progress: ProgressMode::Auto,
        }
    }

    fn owner_tag(&self) -> String {
        self.shard.map_or_else(|| "all".to_string(), |s| s.tag())
    }

    /// `out/b0.parquet`, or `out/b0/shard-00003-of-00008.parquet` for a shard.
    pub fn output_path(&self, variant: &str) -> PathBuf {
        match self.shard {
            None => self.out_dir.join(format!("{variant}.parquet")),
            Some(shard) => self
                .out_dir
                .join(variant)
                .join(format!("{}.parquet", shard.tag())),
        }
    }

    fn side_file(&self, stem: &str, extension: &str) -> PathBuf {
        match self.shard {
            None => self.out_dir.join(format!("{stem}.{extension}")),
            Some(shard) => self
                .out_dir
                .join(format!("{stem}-{}.{extension}", shard.tag())),
        }
    }
}

/// Creates the output folder and proves it writable, so a bad `--out` fails
/// before any weights are loaded or images decoded.
pub fn check_output_dir(dir: &Path) -> Result<(), ExtractError> {
    let io = |source| ExtractError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let probe = dir.join(format!(".write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(io)?;
    std::fs::remove_file(&probe).map_err(io)
}

pub fn extract(
    report: &ScanReport,
    backbones: &mut [Box<dyn Backbone>],
    options: &ExtractOptions,
) -> Result<RunRecord, ExtractError> {
    let wall = Instant::now();
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let mut seen_variants = HashSet::new();
    for backbone in backbones.iter() {
        if !seen_variants.insert(backbone.variant().to_string()) {
            return Err(ExtractError::DuplicateVariant(
                backbone.variant().to_string(),
            ));
        }
    }
    let out = &options.out_dir;
    std::fs::create_dir_all(out).map_err(|source| ExtractError::Io {
        path: out.clone(),
        source,
    })?;
    let variant_names: Vec<String> = backbones.iter().map(|b| b.variant().to_string()).collect();
    let _lock = lock::OutputLock::acquire(
        out,
        &format!("{}{}", lock::LOCK_PREFIX, options.owner_tag()),
        &variant_names,
    )?;
    if let Some(shard) = options.shard {
        completion::withdraw(out, shard, &variant_names)?;
    }

    let mut images: Vec<&ImageEntry> = report
        .images
        .iter()
        .filter(|i| options.shard.is_none_or(|s| s.contains(&i.key)))
        .collect();
    images.sort_by(|a, b| a.path.cmp(&b.path));

    let cache_root = out.join(".cache");
    let mut caches = Vec::with_capacity(backbones.len());
    let mut activation_caches: Vec<Option<ActivationCache>> = Vec::with_capacity(backbones.len());
    for backbone in backbones.iter() {
        let meta = feature_meta(backbone.as_ref(), &report.classes);
        let features_fingerprint = backbone.identity().fingerprint();
        caches.push(FeatureCache::open(
            &cache_root,
            meta,
            &features_fingerprint,
            &options.owner_tag(),
            options.chunk_rows,
        )?);
        activation_caches.push(match backbone.activation_cut() {
            Some(cut) => Some(ActivationCache::open(
                &cache_root,
                ActivationMeta {
                    variant: backbone.variant().to_string(),
                    weights: backbone.weights().clone(),
                    preprocessing: backbone.recipe().clone(),
                    cut,
                },
                &activation_cache::fingerprint(&features_fingerprint, &cut),
                &options.owner_tag(),
                options.chunk_rows,
            )?),
            None => None,
        });
    }

    // Which backbones each image still needs: features or activations missing.
    let todo: Vec<(usize, Vec<bool>)> = images
        .iter()
        .enumerate()
        .filter_map(|(index, image)| {
            let needs: Vec<bool> = caches
                .iter()
                .zip(&activation_caches)
                .map(|(c, a)| {
                    !c.contains(&image.key) || a.as_ref().is_some_and(|a| !a.contains(&image.key))
                })
                .collect();
            needs.iter().any(|&n| n).then_some((index, needs))
        })
        .collect();
    let cached_hits: Vec<usize> = caches
        .iter()
        .map(|c| images.iter().filter(|i| c.contains(&i.key)).count())
        .collect();
    let work: Vec<Work> = todo
        .iter()
        .map(|(index, needs)| Work {
            source: &images[*index].source,
            key: &images[*index].key,
            needs: needs.clone(),
        })
        .collect();

    let mut rejects: Vec<Reject> = Vec::new();
    let mut progress = progress::Progress::new(work.len() as u64, options.progress);
    let mut running: Vec<&mut dyn Backbone> = backbones
        .iter_mut()
        .map(|b| &mut **b as &mut dyn Backbone)
        .collect();
    let (stats, outcome) = run_batches(
        &work,
        &mut running,
        options.limits,
        &mut progress,
        |b, w, feature, activation| {
            let image = images[todo[w].0];
            if !caches[b].contains(&image.key) {
                caches[b].append(row(image, feature.to_vec()))?;
            }
            match activation_caches[b].as_mut() {
                Some(cache) if !cache.contains(&image.key) => cache.append(&image.key, activation),
                _ => Ok(()),
            }
        },
        |w, reason| {
            let image = images[todo[w].0];
            rejects.push(Reject {
                path: image.path.clone(),
                stage: "decode".into(),
                reason,
                key: Some(image.key.clone()),
            })
        },
    );
    drop(running);
    progress.finish();
    // Whatever happened, keep every feature already computed.
    for cache in activation_caches.iter_mut().flatten() {
        cache.commit()?;
    }
    for (b, cache) in caches.iter_mut().enumerate() {
        cache.commit()?;
        cache.record_timing(cache::BackboneTiming {
            images: stats.computed[b],
            seconds: stats.backbone_seconds[b],
        })?;
    }
    outcome?;

    let rejected_keys: HashSet<&str> = rejects.iter().filter_map(|r| r.key.as_deref()).collect();
    let kept: Vec<&ImageEntry> = images
        .iter()
        .copied()
        .filter(|i| !rejected_keys.contains(i.key.as_str()))
        .collect();
    let mut variants = Vec::with_capacity(backbones.len());
    for (b, backbone) in backbones.iter().enumerate() {
        let output = options.output_path(backbone.variant());
        let timing = caches[b].timing()?;
        let mut meta = feature_meta(backbone.as_ref(), &report.classes);
        if let Some(timing) = timing {
            meta.extra.insert(
                extra::SECONDS_PER_IMAGE.into(),
                timing.seconds_per_image().to_string(),
            );
            meta.extra
                .insert(extra::TIMED_IMAGES.into(), timing.images.to_string());
        }
        let activations = activation_caches[b].as_ref().map(|cache| {
            let cut = cache.cut();
            let name = cache
                .dir()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Relative to the feature file's folder (a shard's is one level down).
            let relative = match options.shard {
                None => format!(".cache/{name}"),
                Some(_) => format!("../.cache/{name}"),
            };
            meta.extra.insert(extra::ACTIVATIONS.into(), relative);
            ActivationRecord {
                dir: cache.dir().display().to_string(),
                cut,
                dtype: "f16".into(),
                bytes_per_image: cut.bytes_per_image(),
                rows: cache.count_of(kept.iter().map(|i| i.key.as_str())),
            }
        });
        let rows = write_output(&output, meta, &kept, &caches[b], options.shard)?;
        variants.push(VariantRecord {
            variant: backbone.variant().to_string(),
            output: output.display().to_string(),
            rows,
            feature_dim: backbone.feature_dim(),
            input_size: backbone.recipe().input_size,
            cached_hits: cached_hits[b],
            computed: stats.computed[b],
            backbone_seconds: stats.backbone_seconds[b],
            images_per_second: if stats.backbone_seconds[b] > 0.0 {
                stats.computed[b] as f64 / stats.backbone_seconds[b]
            } else {
                0.0
            },
            batch_size: backbone.batch_size(),
            device: backbone.device(),
            precision: backbone.precision(),
            weights_source: backbone.weights().source.clone(),
            weights_blake3: backbone.weights().blake3.clone(),
            cache_dir: caches[b].dir().display().to_string(),
            backbone_seconds_per_image: timing.map(|t| t.seconds_per_image()),
            activations,
        });
    }

    let mut all_rejects: Vec<Reject> = report
        .problems
        .iter()
        .map(|problem| Reject {
            path: problem.path.clone(),
            stage: "scan".into(),
            reason: problem.reason.clone(),
            key: None,
        })
        .collect();
    all_rejects.extend(rejects);
    all_rejects.sort_by(|a, b| a.path.cmp(&b.path));
    let rejects_path = options.side_file("rejects", "csv");
    contract::rejects::write(&rejects_path, &all_rejects)?;

    let record = RunRecord {
        schema_version: RUN_RECORD_SCHEMA_VERSION,
        tool_version: format!("effprobe {}", env!("CARGO_PKG_VERSION")),
        started_at,
        dataset: report.root.display().to_string(),
        dataset_scan: Some(report.summary()),
        output_dir: out.display().to_string(),
        shard: options.shard.map(|s| s.to_string()),
        files_scanned: report.files_seen(),
        images: images.len(),
        duplicates: report.duplicates.len(),
        decoded: todo.len() - all_rejects.iter().filter(|r| r.stage == "decode").count(),
        rejected: all_rejects.len(),
        rejects_file: rejects_path.display().to_string(),
        decode_seconds: stats.decode_seconds,
        wall_seconds: wall.elapsed().as_secs_f64(),
        peak_rss_bytes: contract::records::peak_rss_bytes(),
        variants,
    };
    record.write(&options.side_file("run", "json"))?;
    // Last: a shard is done once its part files and side files are all in place.
    if let Some(shard) = options.shard {
        let dataset = completion::scanned_dataset(report);
        let decode_rejects = all_rejects.iter().filter(|r| r.stage == "decode").count();
        let finished_at =
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        for (b, variant) in record.variants.iter().enumerate() {
            let part = PathBuf::from(&variant.output);
            let done = ShardRecord {
                schema_version: contract::shard_record::SHARD_RECORD_SCHEMA_VERSION,
                tool_version: record.tool_version.clone(),
                variant: variant.variant.clone(),
                shard: shard.to_string(),
                shard_from: options
                    .shard_from
                    .clone()
                    .unwrap_or_else(|| format!("--shard {shard}")),
                part: String::new(),
                part_bytes: 0,
                rows: variant.rows,
                images: images.len(),
                rejected: decode_rejects,
                rejects_file: record.rejects_file.clone(),
                computed: variant.computed,
                cached: cached_hits[b],
                dataset: dataset.clone(),
                weights_blake3: variant.weights_blake3.clone(),
                feature_format_version: contract::FORMAT_VERSION,
                host: lock::hostname(),
                pid: std::process::id(),
                started_at: record.started_at.clone(),
                finished_at: finished_at.clone(),
                wall_seconds: wall.elapsed().as_secs_f64(),
                decode_seconds: record.decode_seconds,
                backbone_seconds: variant.backbone_seconds,
            };
            completion::publish(&part, shard, done)?;
        }
    }
    if options.strict && !all_rejects.is_empty() {
        return Err(ExtractError::StrictRejects {
            count: all_rejects.len(),
            path: rejects_path,
        });
    }
    Ok(record)
}

/// The metadata of the features `backbone` makes for a dataset of `classes`.
pub(crate) fn feature_meta(backbone: &dyn Backbone, classes: &[String]) -> FeatureMeta {
    let mut meta = FeatureMeta::new(
        backbone.variant(),
        backbone.feature_dim(),
        backbone.feature_layer(),
        backbone.recipe().clone(),
        backbone.weights().clone(),
        classes.to_vec(),
    );
    meta.extra.extend(backbone.extra());
    meta
}

fn row(image: &ImageEntry, feature: Vec<f32>) -> FeatureRow {
    FeatureRow {
        key: image.key.clone(),
        path: image.path.clone(),
        label: image.label,
        label_name: image.class.clone(),
        split: image.split,
        feature,
    }
}

/// Writes the dataset's current rows, in path order, with path, label and split
/// refreshed from the scan, streamed from the cache.
fn write_output(
    path: &Path,
    meta: FeatureMeta,
    images: &[&ImageEntry],
    cache: &FeatureCache,
    shard: Option<Shard>,
) -> Result<usize, ExtractError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| ExtractError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut meta = meta;
    if let Some(shard) = shard {
        meta.extra.insert(extra::SHARD.into(), shard.to_string());
    }
    let mut writer = FeatureWriter::create(path, &meta)?;
    let keys: Vec<&str> = images.iter().map(|i| i.key.as_str()).collect();
    cache.for_each_in_order(&keys, |position, feature| {
        Ok(writer.write_row(row(images[position], feature.to_vec()))?)
    })?;
    Ok(writer.finish()?)
}
