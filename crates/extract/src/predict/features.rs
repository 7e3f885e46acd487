//! Features for the files to classify: each distinct content once, from the
//! feature cache when it holds it, otherwise decoded on all cores and run through
//! the backbone in batches while decoding goes on, as the extract pipeline does.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use featurefile::{FeatureRow, Preprocessing, Split};
use rayon::prelude::*;

use crate::pipeline::{fingerprint, Backbone, FeatureCache, Progress, ProgressMode};
use crate::preprocess::{decode_rgb, resize_for_input, DecodeLimits};

use super::inputs::InputFile;
use super::PredictError;

/// A feature cache (the `.cache` folder of an `extract --out` folder) to read,
/// and to add newly computed rows to when `write` is set.
#[derive(Clone, Debug)]
pub struct CacheUse {
    pub root: PathBuf,
    pub write: bool,
}

#[derive(Clone, Debug)]
pub struct FeatureOptions {
    pub limits: DecodeLimits,
    pub progress: ProgressMode,
    pub cache: Option<CacheUse>,
}

/// Why an input has no features.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The content key, when the file could be read.
    pub key: Option<String>,
    pub reason: String,
}

pub struct Features {
    /// Per input, in order: its content key, or why it has no features.
    pub keys: Vec<Result<String, Rejected>>,
    pub by_key: HashMap<String, Vec<f32>>,
    /// Distinct images run through the backbone.
    pub computed: usize,
    /// Distinct images found in the cache.
    pub cached: usize,
    /// Inputs whose bytes repeat an earlier input's (classified once).
    pub duplicates: usize,
    pub backbone_seconds: f64,
    /// Read, hash, decode and resize, summed over worker threads.
    pub decode_seconds: f64,
    /// The cache folder of this backbone and recipe (absent when not asked for,
    /// or when a read-only cache holds none).
    pub cache_dir: Option<PathBuf>,
}

/// Cache rows need a label and split; a new image has neither. The pipeline never
/// reads them back from the cache (it takes both from its scan), so these mark
/// the rows as predict's.
const UNLABELLED: i32 = -1;

pub fn features(
    files: &[InputFile],
    backbone: &mut dyn Backbone,
    classes: &[String],
    options: &FeatureOptions,
) -> Result<Features, PredictError> {
    let decode_nanos = AtomicU64::new(0);
    let timed = |began: Instant| {
        decode_nanos.fetch_add(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
    };

    // Content keys first: they find cached rows and duplicates before any decoding.
    let keys: Vec<Result<String, Rejected>> = files
        .par_iter()
        .map(|file| {
            let began = Instant::now();
            let key = match &file.problem {
                Some(problem) => Err(problem.clone()),
                None => std::fs::read(&file.path)
                    .map(|bytes| blake3::hash(&bytes).to_hex().to_string())
                    .map_err(|e| format!("cannot read: {e}")),
            };
            timed(began);
            key.map_err(|reason| Rejected { key: None, reason })
        })
        .collect();
    let mut first_input: HashMap<&str, usize> = HashMap::new();
    for (input, key) in keys.iter().enumerate() {
        if let Ok(key) = key {
            first_input.entry(key.as_str()).or_insert(input);
        }
    }
    let duplicates = keys.iter().filter(|k| k.is_ok()).count() - first_input.len();

    let mut cache = open_cache(backbone, classes, options.cache.as_ref())?;
    let mut by_key: HashMap<String, Vec<f32>> = match &cache {
        Some(cache) => {
            let wanted: HashSet<&str> = first_input
                .keys()
                .copied()
                .filter(|key| cache.contains(key))
                .collect();
            cache.load(&wanted)?
        }
        None => HashMap::new(),
    };
    let cached = by_key.len();
    let mut todo: Vec<(usize, &str)> = first_input
        .iter()
        .filter(|(key, _)| !by_key.contains_key(**key))
        .map(|(key, input)| (*input, *key))
        .collect();
    todo.sort();

    let recipe = backbone.recipe().clone();
    let batch_size = backbone.batch_size().max(1);
    let dim = backbone.feature_dim();
    let mut progress = Progress::new(todo.len() as u64, options.progress);
    let mut failed: HashMap<String, String> = HashMap::new();
    let mut computed = 0usize;
    let mut backbone_seconds = 0f64;
    let outcome = std::thread::scope(|scope| -> Result<(), PredictError> {
        let (sender, receiver) = sync_channel::<(usize, Result<Vec<u8>, String>)>(batch_size * 2);
        let todo = &todo;
        let recipe = &recipe;
        let timed = &timed;
        let limits = options.limits;
        scope.spawn(move || {
            todo.par_iter().enumerate().for_each_init(
                || (sender.clone(), fast_image_resize::Resizer::new()),
                |(sender, resizer), (slot, (input, key))| {
                    let began = Instant::now();
                    let prepared = prepare(&files[*input], key, recipe, limits, resizer);
                    timed(began);
                    // A closed channel means the consumer stopped on an error.
                    let _ = sender.send((slot, prepared));
                },
            );
        });

        let mut flush = |batch: &mut Vec<(usize, Vec<u8>)>| -> Result<(), PredictError> {
            if batch.is_empty() {
                return Ok(());
            }
            let inputs: Vec<&[u8]> = batch.iter().map(|(_, pixels)| pixels.as_slice()).collect();
            let began = Instant::now();
            let features = backbone.forward(&inputs).map_err(PredictError::Backbone)?;
            backbone_seconds += began.elapsed().as_secs_f64();
            if features.len() != batch.len() * dim {
                return Err(PredictError::Backbone(crate::pipeline::BackboneError(
                    format!(
                        "returned {} values for {} images of width {dim}",
                        features.len(),
                        batch.len()
                    ),
                )));
            }
            for ((slot, _), feature) in batch.iter().zip(features.chunks_exact(dim)) {
                let (input, key) = todo[*slot];
                if let Some(cache) = cache.as_mut().filter(|_| writes(options)) {
                    cache.append(FeatureRow {
                        key: key.to_string(),
                        path: files[input].shown.clone(),
                        label: UNLABELLED,
                        label_name: String::new(),
                        split: Split::Test,
                        feature: feature.to_vec(),
                    })?;
                }
                by_key.insert(key.to_string(), feature.to_vec());
            }
            computed += batch.len();
            batch.clear();
            Ok(())
        };
        let mut consume = || -> Result<(), PredictError> {
            let mut pending = Vec::with_capacity(batch_size);
            for (slot, prepared) in receiver.iter() {
                match prepared {
                    Ok(pixels) => {
                        pending.push((slot, pixels));
                        if pending.len() >= batch_size {
                            flush(&mut pending)?;
                        }
                    }
                    Err(reason) => {
                        failed.insert(todo[slot].1.to_string(), reason);
                    }
                }
                progress.advance(1);
            }
            flush(&mut pending)
        };
        let result = consume();
        drop(receiver);
        result
    });
    progress.finish();
    // Whatever happened, keep every feature already computed.
    let cache_dir = match cache.as_mut() {
        Some(cache) => {
            cache.commit()?;
            Some(cache.dir().to_path_buf())
        }
        None => None,
    };
    outcome?;

    let keys = keys
        .into_iter()
        .map(|key| {
            let key = key?;
            match failed.get(key.as_str()) {
                Some(reason) => Err(Rejected {
                    reason: reason.clone(),
                    key: Some(key),
                }),
                None => Ok(key),
            }
        })
        .collect();
    Ok(Features {
        keys,
        by_key,
        computed,
        cached,
        duplicates,
        backbone_seconds,
        decode_seconds: decode_nanos.load(Ordering::Relaxed) as f64 * 1e-9,
        cache_dir,
    })
}

fn writes(options: &FeatureOptions) -> bool {
    options.cache.as_ref().is_some_and(|c| c.write)
}

/// The cache folder of this backbone's (variant, weights, recipe); `None` when no
/// cache was asked for, or a read-only cache has no folder for these features.
fn open_cache(
    backbone: &dyn Backbone,
    classes: &[String],
    cache: Option<&CacheUse>,
) -> Result<Option<FeatureCache>, PredictError> {
    let Some(cache) = cache else {
        return Ok(None);
    };
    let fingerprint = fingerprint(backbone);
    if !cache.write
        && !FeatureCache::dir_for(&cache.root, backbone.variant(), &fingerprint).is_dir()
    {
        return Ok(None);
    }
    let meta = crate::pipeline::feature_meta(backbone, classes);
    // The process id in the owner tag: opening a cache removes the owner's
    // uncommitted files of an earlier (dead) process, never those of another
    // predict running now.
    let owner = format!("predict-{}", std::process::id());
    Ok(Some(FeatureCache::open(
        &cache.root,
        meta,
        &fingerprint,
        &owner,
        CHUNK_ROWS,
    )?))
}

/// Rows per committed cache chunk, as `extract`'s default: the most a crash loses.
const CHUNK_ROWS: usize = 256;

/// Reads the file again (it was only hashed so far), checks it is still the
/// content that was looked up, and makes the backbone's input from it.
fn prepare(
    file: &InputFile,
    key: &str,
    recipe: &Preprocessing,
    limits: DecodeLimits,
    resizer: &mut fast_image_resize::Resizer,
) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(&file.path).map_err(|e| format!("cannot read: {e}"))?;
    if blake3::hash(&bytes).to_hex().as_str() != key {
        return Err("changed while being classified (content hash differs); rerun".into());
    }
    let rgb = decode_rgb(&bytes, limits).map_err(|e| e.to_string())?;
    resize_for_input(&rgb, recipe, resizer).map_err(|e| e.to_string())
}
