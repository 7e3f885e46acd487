//! The one decode → batch → forward path of `extract` and `extract predict`:
//! each image's bytes read once and checked against their content key, decoded
//! once, resized once per distinct recipe among the backbones that need it, on
//! all cores into a bounded queue, while the calling thread batches per backbone
//! and runs the forward passes. Memory stays bounded whatever the number of
//! images, and CPU work overlaps the backbones.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::RwLock;
use std::time::Instant;

use dataset::ImageSource;
use rayon::prelude::*;

use super::{Backbone, BackboneError, ExtractError, Progress};
use crate::preprocess::{decode_rgb, resize_for_input, DecodeLimits};

/// Rows per committed cache chunk by default: the most a crash can lose.
pub const DEFAULT_CHUNK_ROWS: usize = 256;

/// One image to run: where its bytes are, the content key they must hash to, and
/// which of the backbones still need it.
pub struct Work<'a> {
    pub source: &'a ImageSource,
    pub key: &'a str,
    pub needs: Vec<bool>,
}

/// What the forward passes cost, per backbone, and the CPU work beside them.
#[derive(Clone, Debug, Default)]
pub struct BatchStats {
    /// Images through each backbone.
    pub computed: Vec<usize>,
    pub backbone_seconds: Vec<f64>,
    /// Read, hash check, decode and resize, summed over worker threads.
    pub decode_seconds: f64,
}

/// One decoded image, resized for each backbone that needs it.
struct Prepared {
    work: usize,
    inputs: Vec<Option<Vec<u8>>>,
}

/// Runs every work item through the backbones that need it. `on_features(backbone,
/// work, feature, activation)` (the activation empty unless the backbone has an
/// activation cut) receives each result as its batch completes; `on_reject(work,
/// reason)` each image that could not be read or decoded. Stops at the first
/// error of a backbone or of `on_features`; the statistics cover everything done
/// until then, so the caller can commit and record it either way.
pub fn run_batches(
    work: &[Work],
    backbones: &mut [&mut dyn Backbone],
    limits: DecodeLimits,
    progress: &mut Progress,
    mut on_features: impl FnMut(usize, usize, &[f32], &[u16]) -> Result<(), ExtractError>,
    mut on_reject: impl FnMut(usize, String),
) -> (BatchStats, Result<(), ExtractError>) {
    let mut stats = BatchStats {
        computed: vec![0; backbones.len()],
        backbone_seconds: vec![0.0; backbones.len()],
        decode_seconds: 0.0,
    };
    let recipes: Vec<_> = backbones.iter().map(|b| b.recipe().clone()).collect();
    let batch_sizes: Vec<usize> = backbones.iter().map(|b| b.batch_size().max(1)).collect();
    let capacity = batch_sizes.iter().copied().max().unwrap_or(1) * 2;
    let decode_nanos = AtomicU64::new(0);
    // When the decoding threads and libtorch's together outnumber the cores, a
    // forward pass on the CPU and decoding take turns: libtorch's threads meet at
    // a barrier after every operator, so one of them preempted by a decoder
    // stalls the others (B0 on 2 cores: both sides ~1.4x slower overlapped than
    // alone). Decoders hold the turn shared, one image at a time (never while
    // waiting on the queue); a CPU forward pass holds it alone and waits at most
    // for the images being decoded. GPU passes and spare cores overlap freely.
    let turn = RwLock::new(());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let oversubscribed =
        rayon::current_num_threads() + tch::get_num_threads().max(1) as usize > cores;
    let take_turns: Vec<bool> = backbones
        .iter()
        .map(|b| oversubscribed && b.device() == "cpu")
        .collect();

    let outcome = std::thread::scope(|scope| {
        let (sender, receiver) = sync_channel::<Result<Prepared, (usize, String)>>(capacity);
        let recipes = &recipes;
        let decode_nanos = &decode_nanos;
        let turn = &turn;
        scope.spawn(move || {
            work.par_iter()
                .enumerate()
                .for_each_with(sender, |sender, (index, item)| {
                    let shared = turn.read().unwrap_or_else(|e| e.into_inner());
                    let began = Instant::now();
                    let prepared = prepare(item, index, recipes, limits);
                    drop(shared);
                    decode_nanos.fetch_add(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    // A closed channel means the consumer stopped on an error.
                    let _ = sender.send(prepared);
                });
        });

        let mut pending: Vec<Vec<(usize, Vec<u8>)>> = vec![Vec::new(); backbones.len()];
        let mut run = |b: usize, batch: &mut Vec<(usize, Vec<u8>)>| -> Result<(), ExtractError> {
            if batch.is_empty() {
                return Ok(());
            }
            let inputs: Vec<&[u8]> = batch.iter().map(|(_, input)| input.as_slice()).collect();
            let alone = take_turns[b].then(|| turn.write().unwrap_or_else(|e| e.into_inner()));
            let began = Instant::now();
            let forwarded = backbones[b].forward(&inputs);
            let activations = backbones[b].take_activations();
            drop(alone);
            let failed = |source| ExtractError::Backbone {
                variant: backbones[b].variant().to_string(),
                source,
            };
            let features = forwarded.map_err(failed)?;
            stats.backbone_seconds[b] += began.elapsed().as_secs_f64();
            let dim = backbones[b].feature_dim();
            if features.len() != batch.len() * dim {
                return Err(failed(BackboneError(format!(
                    "returned {} values for {} images of width {dim}",
                    features.len(),
                    batch.len()
                ))));
            }
            let per_image = backbones[b].activation_values();
            if activations.len() != batch.len() * per_image {
                return Err(failed(BackboneError(format!(
                    "returned {} activation values for {} images of {per_image}",
                    activations.len(),
                    batch.len()
                ))));
            }
            for (row, ((index, _), feature)) in
                batch.iter().zip(features.chunks_exact(dim)).enumerate()
            {
                let activation = &activations[row * per_image..(row + 1) * per_image];
                on_features(b, *index, feature, activation)?;
            }
            stats.computed[b] += batch.len();
            batch.clear();
            Ok(())
        };
        let mut consume = || -> Result<(), ExtractError> {
            for message in receiver.iter() {
                match message {
                    Err((index, reason)) => on_reject(index, reason),
                    Ok(prepared) => {
                        for (b, input) in prepared.inputs.into_iter().enumerate() {
                            if let Some(input) = input {
                                pending[b].push((prepared.work, input));
                                if pending[b].len() >= batch_sizes[b] {
                                    run(b, &mut pending[b])?;
                                }
                            }
                        }
                    }
                }
                progress.advance(1);
            }
            for (b, batch) in pending.iter_mut().enumerate() {
                run(b, batch)?;
            }
            Ok(())
        };
        let result = consume();
        drop(receiver);
        result
    });
    stats.decode_seconds = decode_nanos.load(Ordering::Relaxed) as f64 * 1e-9;
    (stats, outcome)
}

/// Reads the image again (it was only hashed so far), checks it is still the
/// content its key names, decodes it once and resizes it for each backbone
/// that needs it (once per distinct recipe), in backbone order.
fn prepare(
    item: &Work,
    index: usize,
    recipes: &[contract::Preprocessing],
    limits: DecodeLimits,
) -> Result<Prepared, (usize, String)> {
    let reject = |reason: String| (index, reason);
    let bytes = item
        .source
        .read()
        .map_err(|e| reject(format!("cannot read: {e}")))?;
    if blake3::hash(&bytes).to_hex().as_str() != item.key {
        return Err(reject(
            "changed since it was hashed (content hash differs); rerun".into(),
        ));
    }
    let rgb = decode_rgb(&bytes, limits).map_err(|e| reject(e.to_string()))?;
    // One resize per distinct recipe; backbones sharing it get copies.
    let mut inputs: Vec<Option<Vec<u8>>> = vec![None; item.needs.len()];
    for (b, recipe) in recipes.iter().enumerate() {
        if !item.needs[b] || inputs[b].is_some() {
            continue;
        }
        let input = resize_for_input(&rgb, recipe).map_err(|e| reject(e.to_string()))?;
        for other in b + 1..recipes.len() {
            if item.needs[other] && recipes[other] == *recipe {
                inputs[other] = Some(input.clone());
            }
        }
        inputs[b] = Some(input);
    }
    Ok(Prepared {
        work: index,
        inputs,
    })
}
