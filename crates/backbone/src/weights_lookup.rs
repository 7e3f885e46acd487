//! Which weights each native variant of a run uses, in this order: a
//! `--weights` entry (`VARIANT=SPEC`; a bare SPEC for a run of one variant, or
//! `random[:SEED]` for all), then `--weights-dir DIR/VARIANT.safetensors`, then
//! the variant's canonical timm weights ([`canonical_weights`]) from the local
//! Hugging Face cache; and whether the hub-named ones are in that cache,
//! fetched into it first with `--download` ([`crate::hub_download`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::efficientnet::{canonical_weights, Variant};
use crate::hub_cache::{self, CachedModel, HubError};
use crate::hub_download::{self, DownloadError, DownloadOptions, Downloaded};
use crate::spec::WeightsSpec;

/// Where a variant's weights were found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightsOrigin {
    /// A `--weights` entry.
    Named,
    /// `--weights-dir`.
    Folder,
    /// Nothing named them: the canonical timm weights. `folder_lacks` is the
    /// `--weights-dir` file looked for first, when there was a folder.
    Canonical { folder_lacks: Option<PathBuf> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenWeights {
    pub spec: WeightsSpec,
    pub origin: WeightsOrigin,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LookupError {
    #[error(
        "--weights {entry}: {variant} is not a native variant of this run ({natives}); \
         exported modules carry their own weights"
    )]
    NotInRun {
        entry: String,
        variant: String,
        natives: String,
    },
    #[error("--weights {entry}: with several variants, write VARIANT=SPEC")]
    NeedsVariant { entry: String },
    #[error("--weights {entry}: {reason}")]
    BadSpec { entry: String, reason: String },
}

/// The weights of each of `variants`, from `--weights` `entries` and
/// `--weights-dir`, else canonical (see the module docs).
pub fn choose_weights(
    variants: &[Variant],
    entries: &[String],
    weights_dir: Option<&Path>,
) -> Result<BTreeMap<Variant, ChosenWeights>, LookupError> {
    let parse = |entry: &str, spec: &str| {
        spec.parse::<WeightsSpec>()
            .map_err(|reason| LookupError::BadSpec {
                entry: entry.to_string(),
                reason,
            })
    };
    let named = |spec| ChosenWeights {
        spec,
        origin: WeightsOrigin::Named,
    };
    let mut chosen = BTreeMap::new();
    for entry in entries {
        let (variant, spec) = match entry.split_once('=') {
            Some((variant, spec)) => match variant.parse::<Variant>() {
                Ok(variant) if variants.contains(&variant) => (variant, spec),
                _ => {
                    return Err(LookupError::NotInRun {
                        entry: entry.clone(),
                        variant: variant.to_string(),
                        natives: variants
                            .iter()
                            .map(|v| v.name())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            },
            None if variants.len() == 1 => (variants[0], entry.as_str()),
            None => {
                // Seeded random weights make sense for every variant at once (benchmarks);
                // a file or a hub name belongs to one.
                let spec = parse(entry, entry)?;
                if !matches!(spec, WeightsSpec::Random { .. }) {
                    return Err(LookupError::NeedsVariant {
                        entry: entry.clone(),
                    });
                }
                for variant in variants {
                    chosen
                        .entry(*variant)
                        .or_insert_with(|| named(spec.clone()));
                }
                continue;
            }
        };
        chosen.insert(variant, named(parse(entry, spec)?));
    }
    for variant in variants {
        if chosen.contains_key(variant) {
            continue;
        }
        let in_folder = weights_dir.map(|dir| dir.join(format!("{}.safetensors", variant.name())));
        let found = match in_folder {
            Some(path) if path.exists() => ChosenWeights {
                spec: WeightsSpec::File(path),
                origin: WeightsOrigin::Folder,
            },
            folder_lacks => ChosenWeights {
                spec: WeightsSpec::Hub(canonical_weights(*variant).to_string()),
                origin: WeightsOrigin::Canonical { folder_lacks },
            },
        };
        chosen.insert(*variant, found);
    }
    Ok(chosen)
}

/// Whether a hub-named choice can be loaded.
#[derive(Debug)]
pub enum HubStatus {
    Cached(CachedModel),
    /// Fetched by this call (`--download`).
    Downloaded(Downloaded),
    /// Neither in the cache nor fetched.
    Missing {
        name: String,
    },
}

/// Each hub-named choice's [`HubStatus`] in `cache`, downloading the missing
/// ones when `download` is given, in variant order. Choices that are not hub
/// names are left out; a cache entry that exists but cannot be read is an error
/// (unless `download` replaces it).
pub fn hub_status(
    chosen: &BTreeMap<Variant, ChosenWeights>,
    cache: &Path,
    download: Option<&DownloadOptions>,
) -> Result<Vec<(Variant, HubStatus)>, DownloadError> {
    let mut statuses = Vec::new();
    for (variant, choice) in chosen {
        let WeightsSpec::Hub(name) = &choice.spec else {
            continue;
        };
        let status = match (hub_cache::resolve(name, cache), download) {
            (Ok(model), _) => HubStatus::Cached(model),
            (Err(HubError::NotCached { .. } | HubError::NoSafetensors { .. }), Some(options)) => {
                let options = DownloadOptions {
                    variant: Some(*variant),
                    ..options.clone()
                };
                HubStatus::Downloaded(hub_download::download(name, cache, &options)?)
            }
            (Err(HubError::NotCached { .. }), None) => HubStatus::Missing { name: name.clone() },
            (Err(other), _) => return Err(other.into()),
        };
        statuses.push((*variant, status));
    }
    Ok(statuses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn named_then_folder_then_canonical() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b1.safetensors"), b"").unwrap();
        let chosen = choose_weights(
            &[Variant::B0, Variant::B1, Variant::B7],
            &entries(&["b0=random:3"]),
            Some(dir.path()),
        )
        .unwrap();
        assert_eq!(chosen[&Variant::B0].spec, WeightsSpec::Random { seed: 3 });
        assert_eq!(chosen[&Variant::B0].origin, WeightsOrigin::Named);
        assert_eq!(
            chosen[&Variant::B1].spec,
            WeightsSpec::File(dir.path().join("b1.safetensors"))
        );
        assert_eq!(chosen[&Variant::B1].origin, WeightsOrigin::Folder);
        assert_eq!(
            chosen[&Variant::B7].spec,
            WeightsSpec::Hub("timm/tf_efficientnet_b7.ns_jft_in1k".into())
        );
        assert_eq!(
            chosen[&Variant::B7].origin,
            WeightsOrigin::Canonical {
                folder_lacks: Some(dir.path().join("b7.safetensors"))
            }
        );
    }

    #[test]
    fn entries_name_their_variant_unless_there_is_one() {
        let one = choose_weights(&[Variant::B3], &entries(&["w.safetensors"]), None).unwrap();
        assert_eq!(
            one[&Variant::B3].spec,
            WeightsSpec::File("w.safetensors".into())
        );
        let two = [Variant::B0, Variant::B1];
        assert!(matches!(
            choose_weights(&two, &entries(&["w.safetensors"]), None),
            Err(LookupError::NeedsVariant { .. })
        ));
        let random = choose_weights(&two, &entries(&["random:5"]), None).unwrap();
        assert!(random
            .values()
            .all(|c| c.spec == WeightsSpec::Random { seed: 5 }));
        assert!(matches!(
            choose_weights(&two, &entries(&["b4=random"]), None),
            Err(LookupError::NotInRun { .. })
        ));
        assert!(matches!(
            choose_weights(&two, &entries(&["b0=random:x"]), None),
            Err(LookupError::BadSpec { .. })
        ));
    }

    #[test]
    fn nothing_named_means_canonical() {
        let chosen = choose_weights(&[Variant::Lite0], &[], None).unwrap();
        assert_eq!(
            chosen[&Variant::Lite0],
            ChosenWeights {
                spec: WeightsSpec::Hub("timm/efficientnet_lite0.ra_in1k".into()),
                origin: WeightsOrigin::Canonical { folder_lacks: None },
            }
        );
    }

    #[test]
    fn a_missing_hub_entry_is_reported_not_fetched() {
        let cache = tempfile::tempdir().unwrap();
        let chosen = choose_weights(&[Variant::B0], &[], None).unwrap();
        let statuses = hub_status(&chosen, cache.path(), None).unwrap();
        assert!(matches!(
            statuses.as_slice(),
            [(Variant::B0, HubStatus::Missing { name })] if name == "timm/efficientnet_b0.ra_in1k"
        ));
    }
}
