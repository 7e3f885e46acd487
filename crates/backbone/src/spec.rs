//! What a user names — a backbone (`--variant b3`, or `--variant ID=MODULE.pt`
//! for an exported one) and, for the native EfficientNet, its weights (a
//! safetensors file, a Hugging Face cache name, or seeded random weights) — turned
//! into a ready [`Extractor`] with the preprocessing recipe that comes with it.
//!
//! [`prepare`] reads and checks every file once and builds nothing; a
//! [`Prepared`] backbone then builds the network ([`Prepared::build`]), or, for
//! tune-train, only the trainable top of its weights.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use contract::tune_file::TuneFile;
use contract::{Interpolation, Preprocessing};
use tch::Device;

use crate::device::{MemoryLayout, Placement, Precision};
use crate::efficientnet::{
    EfficientNetWeights, Padding, TopBlocks, UnknownVariant, Variant, WeightsOptions,
};
use crate::error::ModelError;
use crate::extractor::Extractor;
use crate::hub_cache::{self, HubError};
use crate::id::{BadModelId, ModelId};
use crate::net::FeatureNet;
use crate::recipe::{timm_recipe, RecipeOverrides, IMAGENET_MEAN, IMAGENET_STD};
use crate::torchscript::ExportedModule;

#[derive(Debug, thiserror::Error)]
pub enum WeightsSpecError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("{path}: metadata effprobe.recipe is not a preprocessing recipe: {reason}")]
    BadRecipe { path: PathBuf, reason: String },
    #[error(
        "{weights}: the weights carry no preprocessing recipe; give one with --input-size (and \
         --resize-size/--crop-fraction, --interpolation, --mean, --std), or convert them with \
         tools/convert_weights.py --recipe"
    )]
    NoRecipe { weights: String },
    #[error("random weights need --variant")]
    RandomNeedsVariant,
    #[error(
        "no weights for {0}: pass --weights {0}=FILE|HF_NAME|random[:SEED], or --weights-dir DIR"
    )]
    NoWeights(Variant),
    #[error("invalid recipe: {0}")]
    InvalidRecipe(String),
    #[error(
        "{id}: an exported module is traced at {traced} px and takes no other size; --input-size \
         {requested} needs a module exported at that size (tools/export_backbone.py --input-size)"
    )]
    ModuleInputSize {
        id: ModelId,
        traced: String,
        requested: u32,
    },
    #[error(
        "{id}: an exported module carries its own weights; --weights does not apply to it \
         (export it again from other weights instead)"
    )]
    ModuleWeights { id: ModelId },
}

/// A native EfficientNet's weights, as `--weights` names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightsSpec {
    File(PathBuf),
    /// `owner/model` in the local Hugging Face cache.
    Hub(String),
    /// Seeded random weights: for benchmarks and pipeline checks, never for results.
    Random {
        seed: u64,
    },
}

impl FromStr for WeightsSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "random" {
            return Ok(WeightsSpec::Random { seed: 0 });
        }
        if let Some(seed) = text.strip_prefix("random:") {
            return seed
                .parse()
                .map(|seed| WeightsSpec::Random { seed })
                .map_err(|e| format!("{text:?}: {e}"));
        }
        if hub_cache::looks_like_hub_name(text) {
            return Ok(WeightsSpec::Hub(text.to_string()));
        }
        Ok(WeightsSpec::File(PathBuf::from(text)))
    }
}

/// The `--weights` text that parses back to the same spec.
impl std::fmt::Display for WeightsSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WeightsSpec::File(path) => write!(f, "{}", path.display()),
            WeightsSpec::Hub(name) => f.write_str(name),
            WeightsSpec::Random { seed } => write!(f, "random:{seed}"),
        }
    }
}

/// One `--variant` entry: a native EfficientNet, or an exported module with the
/// id the user gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackboneChoice {
    Native(Variant),
    Module { id: ModelId, path: PathBuf },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChoiceError {
    #[error(
        "{0}; an exported backbone is named ID=PATH (--variant convnext_tiny=exports/convnext_tiny.pt, \
         made by tools/export_backbone.py)"
    )]
    Unknown(UnknownVariant),
    #[error(transparent)]
    BadId(#[from] BadModelId),
    #[error("--variant {0}: no module path after `=`")]
    NoPath(String),
    #[error("backbone {0} is named twice with different sources")]
    Conflict(ModelId),
}

impl BackboneChoice {
    pub fn id(&self) -> ModelId {
        match self {
            BackboneChoice::Native(variant) => ModelId::native(*variant),
            BackboneChoice::Module { id, .. } => id.clone(),
        }
    }

    /// `--variant` entries, comma-separated or repeated: native names, ranges and
    /// groups (`b0..b3`, `all`, `lite`), and `ID=PATH` for exported modules.
    /// Duplicates are dropped, order kept; one id with two sources is an error.
    pub fn parse_list(entries: &[String]) -> Result<Vec<BackboneChoice>, ChoiceError> {
        let mut chosen: Vec<BackboneChoice> = Vec::new();
        for item in entries
            .iter()
            .flat_map(|e| e.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let parsed = match item.split_once('=') {
                Some((id, path)) => {
                    if path.trim().is_empty() {
                        return Err(ChoiceError::NoPath(item.to_string()));
                    }
                    vec![BackboneChoice::Module {
                        id: id.trim().parse()?,
                        path: PathBuf::from(path.trim()),
                    }]
                }
                None => Variant::parse_list(item)
                    .map_err(ChoiceError::Unknown)?
                    .into_iter()
                    .map(BackboneChoice::Native)
                    .collect(),
            };
            for choice in parsed {
                match chosen.iter().find(|c| c.id() == choice.id()) {
                    Some(existing) if *existing == choice => {}
                    Some(_) => return Err(ChoiceError::Conflict(choice.id())),
                    None => chosen.push(choice),
                }
            }
        }
        Ok(chosen)
    }

    /// The backbone a feature file or head records: its id and the location of
    /// its weights (`effprobe.extra.weights_location`). Exported modules are
    /// recorded by their `.pt` path; everything else is native weights.
    pub fn recorded(
        id: &str,
        location: &str,
    ) -> Result<(BackboneChoice, Option<WeightsSpec>), String> {
        if Path::new(location).extension().is_some_and(|e| e == "pt") {
            let id: ModelId = id.parse().map_err(|e: BadModelId| e.to_string())?;
            return Ok((
                BackboneChoice::Module {
                    id,
                    path: PathBuf::from(location),
                },
                None,
            ));
        }
        let variant: Variant = id.parse().map_err(|e: UnknownVariant| e.to_string())?;
        Ok((BackboneChoice::Native(variant), Some(location.parse()?)))
    }
}

/// How to run a backbone, whatever the weights.
#[derive(Clone, Debug)]
pub struct RunSettings {
    pub device: Device,
    pub precision: Precision,
    pub layout: Option<MemoryLayout>,
    pub padding: Option<Padding>,
    pub hub_cache: PathBuf,
}

impl RunSettings {
    /// fp32 on the CPU, the default layout, the default Hugging Face cache.
    pub fn cpu() -> RunSettings {
        RunSettings {
            device: Device::Cpu,
            precision: Precision::Fp32,
            layout: None,
            padding: None,
            hub_cache: hub_cache::default_cache_dir(),
        }
    }

    pub fn placement(&self) -> Placement {
        Placement::new(self.device, self.precision, self.layout)
    }
}

/// Where loaded weights can be found again: the text that loads them (a file
/// by its absolute path, a Hugging Face name as the name, so that its
/// config.json still supplies padding and recipe; an exported module by its
/// absolute path) and the file they were read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightsLocation {
    pub text: String,
    /// `None` for random weights.
    pub file: Option<PathBuf>,
}

impl WeightsLocation {
    pub fn file_bytes(&self) -> Option<u64> {
        std::fs::metadata(self.file.as_ref()?).ok().map(|m| m.len())
    }
}

impl std::fmt::Display for WeightsLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The weights of a prepared backbone.
pub enum Weights {
    EfficientNet(EfficientNetWeights),
    // Boxed: the card is large and a run holds a handful of these.
    Module(Box<ExportedModule>),
}

/// A backbone's files read and checked, its recipe settled; nothing built yet.
pub struct Prepared {
    pub weights: Weights,
    pub recipe: Preprocessing,
    pub location: WeightsLocation,
}

/// What to build on top of the plain network.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Images per forward pass (`None`: chosen for the device and input size).
    pub batch_size: Option<usize>,
    /// `extract --tune-top`: also emit the activation entering these top blocks.
    pub tune_top: Option<TopBlocks>,
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Reads and checks what `choice` (with `weights` for a native variant) names,
/// and settles its recipe: the weights' own, with `overrides` applied.
pub fn prepare(
    choice: &BackboneChoice,
    weights: Option<&WeightsSpec>,
    settings: &RunSettings,
    overrides: &RecipeOverrides,
) -> Result<Prepared, WeightsSpecError> {
    match choice {
        BackboneChoice::Module { id, path } => {
            if weights.is_some() {
                return Err(WeightsSpecError::ModuleWeights { id: id.clone() });
            }
            let module = ExportedModule::open(id.clone(), path)?;
            let (height, width) = module.input_size();
            if let Some(requested) = overrides.input_size.filter(|s| (*s, *s) != (height, width)) {
                return Err(WeightsSpecError::ModuleInputSize {
                    id: id.clone(),
                    traced: if height == width {
                        height.to_string()
                    } else {
                        format!("{height}×{width}")
                    },
                    requested,
                });
            }
            let recipe = overrides.apply(Some(module.recipe()?), &path.display().to_string())?;
            let location = WeightsLocation {
                text: absolute(path).display().to_string(),
                file: Some(absolute(path)),
            };
            Ok(Prepared {
                weights: Weights::Module(Box::new(module)),
                recipe,
                location,
            })
        }
        BackboneChoice::Native(variant) => {
            let spec = weights.ok_or(WeightsSpecError::NoWeights(*variant))?;
            prepare_native(Some(*variant), spec, settings, overrides)
        }
    }
}

/// A native EfficientNet from `spec`; `variant` is checked against the file
/// (or inferred from it when `None`; random weights need it).
pub fn prepare_native(
    variant: Option<Variant>,
    spec: &WeightsSpec,
    settings: &RunSettings,
    overrides: &RecipeOverrides,
) -> Result<Prepared, WeightsSpecError> {
    let options = |padding: Option<Padding>, source: Option<String>| WeightsOptions {
        variant,
        padding: settings.padding.or(padding),
        source,
    };
    match spec {
        WeightsSpec::Random { seed } => {
            let variant = variant.ok_or(WeightsSpecError::RandomNeedsVariant)?;
            let weights = EfficientNetWeights::random(variant, *seed);
            let base = timm_recipe(
                variant.scaling().resolution as u32,
                0.875,
                Interpolation::Bicubic,
                IMAGENET_MEAN,
                IMAGENET_STD,
            )
            .map_err(|e| WeightsSpecError::InvalidRecipe(e.to_string()))?;
            Ok(Prepared {
                weights: Weights::EfficientNet(weights),
                recipe: overrides.apply(Some(base), &format!("random:{seed}"))?,
                location: WeightsLocation {
                    text: spec.to_string(),
                    file: None,
                },
            })
        }
        WeightsSpec::File(path) => {
            let weights = EfficientNetWeights::open(path, &options(None, None))?;
            let base = match weights.metadata().get("effprobe.recipe") {
                Some(json) => Some(serde_json::from_str::<Preprocessing>(json).map_err(|e| {
                    WeightsSpecError::BadRecipe {
                        path: path.clone(),
                        reason: e.to_string(),
                    }
                })?),
                None => None,
            };
            Ok(Prepared {
                weights: Weights::EfficientNet(weights),
                recipe: overrides.apply(base, &path.display().to_string())?,
                location: WeightsLocation {
                    text: absolute(path).display().to_string(),
                    file: Some(absolute(path)),
                },
            })
        }
        WeightsSpec::Hub(name) => {
            let cached = hub_cache::resolve(name, &settings.hub_cache)?;
            let (padding, base) = match &cached.config {
                Some(config) => {
                    let padding = if config.uses_tf_same_padding() {
                        Padding::Same
                    } else {
                        Padding::Symmetric
                    };
                    (Some(padding), Some(config.recipe(&cached.weights)?))
                }
                None => (None, None),
            };
            let weights =
                EfficientNetWeights::open(&cached.weights, &options(padding, Some(name.clone())))?;
            Ok(Prepared {
                weights: Weights::EfficientNet(weights),
                recipe: overrides.apply(base, name)?,
                location: WeightsLocation {
                    text: spec.to_string(),
                    file: Some(absolute(&cached.weights)),
                },
            })
        }
    }
}

impl Prepared {
    pub fn id(&self) -> ModelId {
        match &self.weights {
            Weights::EfficientNet(weights) => ModelId::native(weights.variant),
            Weights::Module(module) => module.id.clone(),
        }
    }

    /// The native weights, or what the caller wanted them for (`what`) refused.
    pub fn efficientnet(&self, what: &'static str) -> Result<&EfficientNetWeights, ModelError> {
        match &self.weights {
            Weights::EfficientNet(weights) => Ok(weights),
            Weights::Module(module) => Err(ModelError::NativeOnly {
                id: module.id.to_string(),
                what,
            }),
        }
    }

    /// The network on `settings`' device and precision, with the tune file's top
    /// swapped in when given (`(file, its blake3)`), as an [`Extractor`].
    pub fn build(
        &self,
        settings: &RunSettings,
        options: &BuildOptions,
        tune: Option<(&TuneFile, &str)>,
    ) -> Result<Extractor, ModelError> {
        let placement = settings.placement();
        let net: Box<dyn FeatureNet> = match &self.weights {
            Weights::EfficientNet(weights) => {
                let mut net = weights.build(placement, tune)?;
                if let Some(top) = options.tune_top {
                    if !self.recipe.is_square() {
                        return Err(ModelError::BadModule {
                            path: PathBuf::from(self.location.text.clone()),
                            reason: format!(
                                "--tune-top needs a square input, the recipe is {}",
                                self.recipe.input_size_label()
                            ),
                        });
                    }
                    let cut = weights.cut_point(top.count(), self.recipe.input_size)?;
                    net.set_activation_cut(Some(cut));
                }
                Box::new(net)
            }
            Weights::Module(module) => {
                if tune.is_some() {
                    return Err(ModelError::NativeOnly {
                        id: module.id.to_string(),
                        what: "a tune-train head",
                    });
                }
                if options.tune_top.is_some() {
                    return Err(ModelError::NativeOnly {
                        id: module.id.to_string(),
                        what: "--tune-top",
                    });
                }
                Box::new(module.build(placement)?)
            }
        };
        Extractor::new(net, self.recipe.clone(), options.batch_size, &self.location)
    }
}
