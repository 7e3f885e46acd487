use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use backbone::efficientnet::{TopBlocks, Variant};
use backbone::recipe::RecipeOverrides;
use backbone::weights_lookup::choose_weights;
use backbone::{prepare, BackboneChoice, BuildOptions};
use contract::{Interpolation, ResizeMode};
use extract::pipeline::{extract, Backbone, ExtractOptions, ProgressMode, ShardChoice};

/// Extract features: `extract --variant b0,b3 --data DATASET --weights W --out features/`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Backbones to run, comma-separated: b0..b7, lite0..lite4, ranges (b0..b3), `all`
    /// (B0..B7), `lite` (Lite0..Lite4), and ID=MODULE.pt for a backbone exported by
    /// tools/export_backbone.py (convnext_tiny=exports/convnext_tiny.pt); each image is
    /// decoded once for all.
    #[arg(
        long,
        value_delimiter = ',',
        required = true,
        value_name = "VARIANT|ID=MODULE"
    )]
    variant: Vec<String>,
    /// The dataset: a folder (ROOT/CLASS/* split by content hash, or ROOT/{train,val,test}/CLASS/*),
    /// a folder of WebDataset .tar shards, one shard, or a pattern (shards/train-{00000..00099}.tar);
    /// any of these under s3://BUCKET/PREFIX too, read in place (AWS_* variables; see README).
    #[arg(long, required = true)]
    data: Option<PathBuf>,
    #[command(flatten)]
    dataset: super::dataset::DatasetArgs,
    /// Weights of the native variants: a .safetensors file, a Hugging Face cache name
    /// (timm/tf_efficientnet_b3.ns_jft_in1k), or random[:SEED]. Repeat as VARIANT=SPEC for
    /// several variants (exported modules carry their own). A variant named by neither
    /// --weights nor --weights-dir uses its canonical timm weights from the Hugging Face
    /// cache (extract says which; README, "Pretrained weights").
    #[arg(long, value_name = "[VARIANT=]SPEC")]
    weights: Vec<String>,
    /// Folder holding VARIANT.safetensors for variants without --weights.
    #[arg(long, value_name = "DIR")]
    weights_dir: Option<PathBuf>,
    /// Fetch Hugging Face weights missing from the cache (the canonical ones, or a name in
    /// --weights) from $HF_ENDPOINT (default https://huggingface.co), verified against the
    /// hub's sha256, into the cache; without it a missing entry is an error that says how
    /// to get it.
    #[arg(long)]
    download: bool,
    /// Output folder: VARIANT.parquet, rejects.csv, run.json, and the cache in .cache/.
    #[arg(long, default_value = "features")]
    out: PathBuf,
    /// Process only the images whose key falls in shard K of N (K from 0): writes
    /// VARIANT/shard-K-of-N.parquet, then its completion record
    /// VARIANT/_shard-K-of-N.done.json. `auto`: K and N from the job engine (Slurm
    /// array: SLURM_ARRAY_TASK_ID, with EFFPROBE_NUM_SHARDS the index is the shard,
    /// else relative to SLURM_ARRAY_TASK_MIN/_STEP of SLURM_ARRAY_TASK_COUNT; srun
    /// tasks: SLURM_PROCID of SLURM_NTASKS; Kubernetes Indexed Job:
    /// JOB_COMPLETION_INDEX of EFFPROBE_NUM_SHARDS; torchrun: RANK of WORLD_SIZE),
    /// printed at start; none found, or values that disagree, exit 2.
    #[arg(long, value_name = "K/N|auto")]
    shard: Option<ShardChoice>,
    /// Exit with an error if any file is rejected (the good ones are still extracted first).
    #[arg(long)]
    strict: bool,
    /// Rows per committed cache chunk: the most a crash can lose.
    #[arg(long, default_value_t = 256)]
    chunk_rows: usize,
    /// Also cache, per image, the float16 tensor entering the last N blocks
    /// (`stage`, or the flag alone: the last stage's), from the same forward pass,
    /// for tune-train.
    #[arg(long, value_name = "N|stage", num_args = 0..=1, default_missing_value = "stage")]
    tune_top: Option<TopBlocks>,
    #[command(flatten)]
    backbone: super::settings::BackboneArgs,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    recipe: RecipeArgs,
}

/// Preprocessing overrides (default: the recipe recorded with the weights).
#[derive(clap::Args, Debug)]
struct RecipeArgs {
    /// Side of the square input.
    #[arg(long)]
    input_size: Option<u32>,
    /// Side of the resize target before the centre crop (crop: the shorter side's length;
    /// squash and border: the square the image is squashed to or fitted inside).
    #[arg(long, conflicts_with = "crop_fraction")]
    resize_size: Option<u32>,
    /// Input size / resize size (timm's crop_pct), for crop, squash and border.
    #[arg(long)]
    crop_fraction: Option<f64>,
    /// crop (keep aspect, cover the resize size, centre crop: timm's crop_mode center),
    /// squash (to the resize size ignoring aspect, then centre crop: timm's squash),
    /// border (keep aspect, fit inside the resize size, pad with the mean colour, then
    /// centre crop: timm's border) or stretch (straight to the input size ignoring aspect: Keras).
    #[arg(long, value_parser = ["crop", "squash", "border", "stretch"])]
    resize_mode: Option<String>,
    /// nearest, bilinear or bicubic.
    #[arg(long, value_parser = ["nearest", "bilinear", "bicubic"])]
    interpolation: Option<String>,
    /// Per-channel mean of [0, 1] pixels, R,G,B.
    #[arg(long, value_delimiter = ',', value_name = "R,G,B")]
    mean: Option<Vec<f32>>,
    /// Per-channel std of [0, 1] pixels, R,G,B.
    #[arg(long, value_delimiter = ',', value_name = "R,G,B")]
    std: Option<Vec<f32>>,
}

impl RecipeArgs {
    fn overrides(&self) -> anyhow::Result<RecipeOverrides> {
        let triple = |flag: &str, v: &Option<Vec<f32>>| -> anyhow::Result<Option<[f32; 3]>> {
            match v.as_deref() {
                None => Ok(None),
                Some([r, g, b]) => Ok(Some([*r, *g, *b])),
                Some(other) => bail!("--{flag} takes three values R,G,B, got {}", other.len()),
            }
        };
        Ok(RecipeOverrides {
            input_size: self.input_size,
            resize_size: self.resize_size,
            crop_fraction: self.crop_fraction,
            resize_mode: self.resize_mode.as_deref().map(|m| match m {
                "stretch" => ResizeMode::Stretch,
                "squash" => ResizeMode::Squash,
                "border" => ResizeMode::Border,
                _ => ResizeMode::Crop,
            }),
            interpolation: self.interpolation.as_deref().map(|i| match i {
                "nearest" => Interpolation::Nearest,
                "bilinear" => Interpolation::Bilinear,
                _ => Interpolation::Bicubic,
            }),
            mean: triple("mean", &self.mean)?,
            std: triple("std", &self.std)?,
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let data = args.data.clone().context("--data is required")?;
    // Cheap checks first: nothing is created, loaded or decoded for a bad command.
    args.dataset.check(&data)?;
    extract::pipeline::check_output_dir(&args.out)
        .with_context(|| format!("--out {} is not a writable folder", args.out.display()))?;
    let shard = args.shard.map(ShardChoice::resolve).transpose()?;
    if let Some(shard) = shard.as_ref().filter(|_| !args.quiet) {
        eprintln!("extract: {shard}");
    }
    let choices = BackboneChoice::parse_list(&args.variant)?;
    let natives: Vec<Variant> = choices
        .iter()
        .filter_map(|c| match c {
            BackboneChoice::Native(variant) => Some(*variant),
            BackboneChoice::Module { .. } => None,
        })
        .collect();
    let weights = choose_weights(&natives, &args.weights, args.weights_dir.as_deref())?;
    let settings = args.backbone.settings()?;
    super::hub_weights::make_available(&weights, &settings.hub_cache, args.download, args.quiet)?;
    let overrides = args.recipe.overrides()?;
    let build = BuildOptions {
        batch_size: args.backbone.batch_size,
        tune_top: args.tune_top,
    };

    // Everything that can fail cheaply fails before any image is touched.
    let mut backbones: Vec<Box<dyn Backbone>> = Vec::new();
    for choice in &choices {
        let id = choice.id();
        let spec = match choice {
            BackboneChoice::Native(variant) => Some(&weights[variant].spec),
            BackboneChoice::Module { .. } => None,
        };
        let prepared = prepare(choice, spec, &settings, &overrides)
            .with_context(|| format!("loading backbone {id}"))?;
        let extractor = prepared
            .build(&settings, &build, None)
            .with_context(|| format!("building backbone {id}"))?;
        backbones.push(Box::new(extractor));
    }

    // The label map and split counts before the long work: a surprise there costs
    // nothing, and an ambiguous layout stops here.
    let report = args.dataset.scan(&data, false)?;
    if !args.quiet {
        eprint!("{}", report.render());
        let names: Vec<String> = choices.iter().map(|c| c.id().to_string()).collect();
        eprintln!(
            "extract: running {} over {} images",
            names.join(", "),
            report.images.len()
        );
    }
    let options = ExtractOptions {
        out_dir: args.out.clone(),
        shard: shard.as_ref().map(|s| s.shard),
        shard_from: shard.map(|s| s.source),
        limits: args.backbone.limits(),
        chunk_rows: args.chunk_rows,
        strict: args.strict,
        progress: if args.quiet {
            ProgressMode::Quiet
        } else {
            ProgressMode::Auto
        },
    };
    let record = extract(&report, &mut backbones, &options)?;

    if !args.quiet {
        eprintln!(
            "extract: {} images ({} decoded, {} duplicates) in {:.1} s; decode+resize {:.1} CPU-s",
            record.images,
            record.decoded,
            record.duplicates,
            record.wall_seconds,
            record.decode_seconds
        );
        for v in &record.variants {
            eprintln!(
                "  {:<6} {} rows -> {}  computed {}, cached {}, backbone {:.1} s ({:.1} images/s, {} {}, batch {})",
                v.variant, v.rows, v.output, v.computed, v.cached_hits, v.backbone_seconds, v.images_per_second,
                v.device, v.precision, v.batch_size
            );
            if let Some(a) = &v.activations {
                eprintln!(
                    "  {:<6} activations entering block {} of {} ({}x{}x{} f16, {} KB per image, {} rows) -> {}",
                    v.variant,
                    a.cut.first_block,
                    a.cut.total_blocks,
                    a.cut.shape[0],
                    a.cut.shape[1],
                    a.cut.shape[2],
                    a.bytes_per_image / 1024,
                    a.rows,
                    a.dir
                );
            }
        }
        if record.rejected > 0 {
            eprintln!(
                "warning: {} file(s) rejected, listed with reasons in {}",
                record.rejected, record.rejects_file
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
