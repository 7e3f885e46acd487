//! The extract pipeline: each image's bytes are decoded once, resized once per
//! input size, and run through each backbone that does not already hold its
//! features in the cache.
//!
//! Decoding runs on all cores (rayon) and feeds a bounded channel; the calling
//! thread batches and runs the backbones, so CPU work overlaps the forward passes
//! and memory stays bounded. Results are committed to the cache in chunks by
//! atomic rename: a crash loses at most the chunk in flight, and a rerun resumes.

mod backbone;
mod cache;
mod lock;
mod progress;
mod record;
mod rejects;
mod shard;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use featurefile::{FeatureFileError, FeatureMeta, FeatureRow, FeatureWriter};
use rayon::prelude::*;

pub use backbone::{Backbone, BackboneError};
pub use cache::{fingerprint, FeatureCache};
pub use progress::{Progress, ProgressMode};
pub use record::{RunRecord, VariantRecord};
pub use rejects::Reject;
pub use shard::Shard;

use crate::preprocess::{decode_rgb, resize_for_input, DecodeLimits};
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
    #[error("another extract is already writing to {dir} ({holder}); wait for it or choose another --out")]
    AlreadyRunning { dir: PathBuf, holder: String },
    #[error("backbone {variant} failed: {source} (every feature computed so far is committed to the cache)")]
    Backbone {
        variant: String,
        source: BackboneError,
    },
    #[error("variant {0} is requested twice")]
    DuplicateVariant(String),
    #[error("{count} file(s) rejected and --strict is set; see {path}")]
    StrictRejects { count: usize, path: PathBuf },
}

#[derive(Clone, Debug)]
pub struct ExtractOptions {
    pub out_dir: PathBuf,
    pub shard: Option<Shard>,
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
            limits: DecodeLimits::default(),
            chunk_rows: 256,
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

/// One decoded image, resized for each backbone that needs it.
struct Prepared {
    image: usize,
    inputs: Vec<Option<Vec<u8>>>,
}

/// `effprobe.extra.*` keys: the backbone's mean forward time per image over every
/// run that computed rows of this cache (so a run served from the cache still
/// knows what extraction costs), and how many images that mean covers.
pub const EXTRA_SECONDS_PER_IMAGE: &str = "backbone_seconds_per_image";
pub const EXTRA_TIMED_IMAGES: &str = "backbone_timed_images";

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
    let _lock = lock::OutputLock::acquire(out, &format!(".lock-{}", options.owner_tag()))?;

    let mut images: Vec<&ImageEntry> = report
        .images
        .iter()
        .filter(|i| options.shard.is_none_or(|s| s.contains(&i.key)))
        .collect();
    images.sort_by(|a, b| a.path.cmp(&b.path));

    let cache_root = out.join(".cache");
    let mut caches = Vec::with_capacity(backbones.len());
    for backbone in backbones.iter() {
        let meta = feature_meta(backbone.as_ref(), &report.classes);
        caches.push(FeatureCache::open(
            &cache_root,
            meta,
            &fingerprint(backbone.as_ref()),
            &options.owner_tag(),
            options.chunk_rows,
        )?);
    }

    // Which backbones each image still needs.
    let todo: Vec<(usize, Vec<bool>)> = images
        .iter()
        .enumerate()
        .filter_map(|(index, image)| {
            let needs: Vec<bool> = caches.iter().map(|c| !c.contains(&image.key)).collect();
            needs.iter().any(|&n| n).then_some((index, needs))
        })
        .collect();
    let cached_hits: Vec<usize> = caches
        .iter()
        .map(|c| images.iter().filter(|i| c.contains(&i.key)).count())
        .collect();

    let recipes: Vec<_> = backbones.iter().map(|b| b.recipe().clone()).collect();
    let decode_nanos = AtomicU64::new(0);
    let mut rejects: Vec<Reject> = Vec::new();
    let mut computed = vec![0usize; backbones.len()];
    let mut backbone_seconds = vec![0f64; backbones.len()];
    let mut progress = progress::Progress::new(todo.len() as u64, options.progress);
    let batch_sizes: Vec<usize> = backbones.iter().map(|b| b.batch_size().max(1)).collect();
    let capacity = batch_sizes.iter().copied().max().unwrap_or(1) * 2;

    let outcome: Result<(), ExtractError> = std::thread::scope(|scope| {
        let (sender, receiver) = sync_channel::<Result<Prepared, Reject>>(capacity);
        let images = &images;
        let recipes = &recipes;
        let decode_nanos = &decode_nanos;
        let todo = &todo;
        let limits = options.limits;
        scope.spawn(move || {
            todo.par_iter().for_each_init(
                || (sender.clone(), fast_image_resize::Resizer::new()),
                |(sender, resizer), (index, needs)| {
                    let began = Instant::now();
                    let prepared = prepare(images[*index], *index, needs, recipes, limits, resizer);
                    decode_nanos.fetch_add(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    // A closed channel means the consumer stopped on an error.
                    let _ = sender.send(prepared);
                },
            );
        });

        let mut pending: Vec<Vec<(usize, Vec<u8>)>> = vec![Vec::new(); backbones.len()];
        let mut run = |b: usize,
                       batch: Vec<(usize, Vec<u8>)>,
                       caches: &mut Vec<FeatureCache>|
         -> Result<(), ExtractError> {
            if batch.is_empty() {
                return Ok(());
            }
            let inputs: Vec<&[u8]> = batch.iter().map(|(_, input)| input.as_slice()).collect();
            let began = Instant::now();
            let features =
                backbones[b]
                    .forward(&inputs)
                    .map_err(|source| ExtractError::Backbone {
                        variant: backbones[b].variant().to_string(),
                        source,
                    })?;
            backbone_seconds[b] += began.elapsed().as_secs_f64();
            let dim = backbones[b].feature_dim();
            if features.len() != batch.len() * dim {
                return Err(ExtractError::Backbone {
                    variant: backbones[b].variant().to_string(),
                    source: BackboneError(format!(
                        "returned {} values for {} images of width {dim}",
                        features.len(),
                        batch.len()
                    )),
                });
            }
            for ((image, _), feature) in batch.iter().zip(features.chunks_exact(dim)) {
                caches[b].append(row(images[*image], feature.to_vec()))?;
            }
            computed[b] += batch.len();
            Ok(())
        };
        let mut consume = || -> Result<(), ExtractError> {
            for message in receiver.iter() {
                match message {
                    Err(reject) => rejects.push(reject),
                    Ok(prepared) => {
                        for (b, input) in prepared.inputs.into_iter().enumerate() {
                            if let Some(input) = input {
                                pending[b].push((prepared.image, input));
                                if pending[b].len() >= batch_sizes[b] {
                                    let batch = std::mem::take(&mut pending[b]);
                                    run(b, batch, &mut caches)?;
                                }
                            }
                        }
                    }
                }
                progress.advance(1);
            }
            for (b, batch) in pending.iter_mut().enumerate() {
                run(b, std::mem::take(batch), &mut caches)?;
            }
            Ok(())
        };
        let result = consume();
        drop(receiver);
        result
    });
    progress.finish();
    // Whatever happened, keep every feature already computed.
    for (b, cache) in caches.iter_mut().enumerate() {
        cache.commit()?;
        cache.record_timing(cache::BackboneTiming {
            images: computed[b],
            seconds: backbone_seconds[b],
        })?;
    }
    outcome?;

    let rejected_keys: HashSet<&str> = rejects.iter().filter_map(|r| r.key.as_deref()).collect();
    let kept: Vec<&ImageEntry> = images
        .iter()
        .copied()
        .filter(|i| !rejected_keys.contains(i.key.as_str()))
        .collect();
    let wanted: HashSet<&str> = kept.iter().map(|i| i.key.as_str()).collect();
    let mut variants = Vec::with_capacity(backbones.len());
    for (b, backbone) in backbones.iter().enumerate() {
        let output = options.output_path(backbone.variant());
        let features = caches[b].load(&wanted)?;
        let timing = caches[b].timing()?;
        let mut meta = feature_meta(backbone.as_ref(), &report.classes);
        if let Some(timing) = timing {
            meta.extra.insert(
                EXTRA_SECONDS_PER_IMAGE.into(),
                timing.seconds_per_image().to_string(),
            );
            meta.extra
                .insert(EXTRA_TIMED_IMAGES.into(), timing.images.to_string());
        }
        let rows = write_output(&output, meta, &kept, features, options.shard)?;
        variants.push(VariantRecord {
            variant: backbone.variant().to_string(),
            output: output.display().to_string(),
            rows,
            feature_dim: backbone.feature_dim(),
            input_size: backbone.recipe().input_size,
            cached_hits: cached_hits[b],
            computed: computed[b],
            backbone_seconds: backbone_seconds[b],
            images_per_second: if backbone_seconds[b] > 0.0 {
                computed[b] as f64 / backbone_seconds[b]
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
        });
    }

    let mut all_rejects: Vec<Reject> = report.problems.iter().map(Reject::from_scan).collect();
    all_rejects.extend(rejects);
    all_rejects.sort_by(|a, b| a.path.cmp(&b.path));
    let rejects_path = options.side_file("rejects", "csv");
    rejects::write(&rejects_path, &all_rejects)?;

    let record = RunRecord {
        tool_version: format!("effprobe {}", env!("CARGO_PKG_VERSION")),
        started_at,
        dataset: report.root.display().to_string(),
        dataset_scan: report.summary(),
        output_dir: out.display().to_string(),
        shard: options.shard.map(|s| s.to_string()),
        files_scanned: report.files_seen(),
        images: images.len(),
        duplicates: report.duplicates.len(),
        decoded: todo.len() - all_rejects.iter().filter(|r| r.stage == "decode").count(),
        rejected: all_rejects.len(),
        rejects_file: rejects_path.display().to_string(),
        decode_seconds: decode_nanos.load(Ordering::Relaxed) as f64 * 1e-9,
        wall_seconds: wall.elapsed().as_secs_f64(),
        variants,
    };
    let record_path = options.side_file("run", "json");
    let json = serde_json::to_string_pretty(&record).expect("plain data serialises");
    write_atomically(&record_path, json.as_bytes())?;
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

fn prepare(
    image: &ImageEntry,
    index: usize,
    needs: &[bool],
    recipes: &[featurefile::Preprocessing],
    limits: DecodeLimits,
    resizer: &mut fast_image_resize::Resizer,
) -> Result<Prepared, Reject> {
    let reject = |reason: String| Reject {
        path: image.path.clone(),
        key: Some(image.key.clone()),
        stage: "decode",
        reason,
    };
    let bytes = image
        .source
        .read()
        .map_err(|e| reject(format!("cannot read: {e}")))?;
    // The file may have changed since the scan hashed it: its key would be stale.
    if blake3::hash(&bytes).to_hex().as_str() != image.key {
        return Err(reject(
            "changed since the scan (content hash differs); rerun".into(),
        ));
    }
    let rgb = decode_rgb(&bytes, limits).map_err(|e| reject(e.to_string()))?;
    let mut inputs = Vec::with_capacity(needs.len());
    for (need, recipe) in needs.iter().zip(recipes) {
        inputs.push(if *need {
            Some(resize_for_input(&rgb, recipe, resizer).map_err(|e| reject(e.to_string()))?)
        } else {
            None
        });
    }
    Ok(Prepared {
        image: index,
        inputs,
    })
}

/// Writes the dataset's current rows, in path order, with path, label and split
/// refreshed from the scan.
fn write_output(
    path: &Path,
    meta: FeatureMeta,
    images: &[&ImageEntry],
    mut features: std::collections::HashMap<String, Vec<f32>>,
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
        meta.extra.insert("shard".into(), shard.to_string());
    }
    let mut writer = FeatureWriter::create(path, &meta)?;
    for image in images {
        if let Some(feature) = features.remove(&image.key) {
            writer.write_row(row(image, feature))?;
        }
    }
    Ok(writer.finish()?)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ExtractError> {
    let io = |source| ExtractError::Io {
        path: path.to_path_buf(),
        source,
    };
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, bytes).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}
