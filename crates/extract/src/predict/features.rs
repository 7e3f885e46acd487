//! Features for the files to classify: each distinct content once, from the
//! feature cache when it holds it, otherwise through the pipeline's batcher
//! ([`crate::pipeline::batcher`]), the same path `extract` takes.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use contract::{FeatureRow, Split};
use dataset::ImageSource;
use rayon::prelude::*;

use crate::pipeline::{
    run_batches, Backbone, FeatureCache, Progress, ProgressMode, Work, DEFAULT_CHUNK_ROWS,
};
use crate::preprocess::DecodeLimits;

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
    let hash_nanos = AtomicU64::new(0);
    let timed = |began: Instant| {
        hash_nanos.fetch_add(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
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

    let sources: Vec<ImageSource> = todo
        .iter()
        .map(|(input, _)| ImageSource::File(files[*input].path.clone()))
        .collect();
    let work: Vec<Work> = todo
        .iter()
        .zip(&sources)
        .map(|((_, key), source)| Work {
            source,
            key,
            needs: vec![true],
        })
        .collect();
    let mut progress = Progress::new(work.len() as u64, options.progress);
    let mut failed: HashMap<String, String> = HashMap::new();
    let write_cache = writes(options);
    let (stats, outcome) = run_batches(
        &work,
        &mut [backbone],
        options.limits,
        &mut progress,
        |_, slot, feature, _| {
            let (input, key) = todo[slot];
            if let Some(cache) = cache.as_mut().filter(|_| write_cache) {
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
            Ok(())
        },
        |slot, reason| {
            failed.insert(todo[slot].1.to_string(), reason);
        },
    );
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
        computed: stats.computed[0],
        cached,
        duplicates,
        backbone_seconds: stats.backbone_seconds[0],
        decode_seconds: hash_nanos.load(Ordering::Relaxed) as f64 * 1e-9 + stats.decode_seconds,
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
    let fingerprint = backbone.identity().fingerprint();
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
        DEFAULT_CHUNK_ROWS,
    )?))
}
