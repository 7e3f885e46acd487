//! Hugging Face weights settled before anything is loaded or any image touched:
//! found in the cache, fetched with `--download`, or an error that gives the
//! command that gets them.

use std::collections::BTreeMap;
use std::path::Path;

use backbone::efficientnet::Variant;
use backbone::hub_download::DownloadOptions;
use backbone::weights_lookup::{hub_status, ChosenWeights, HubStatus, WeightsOrigin};

/// Says on stderr (unless `quiet`) which canonical weights each variant uses and
/// what was downloaded; fails when hub weights are missing and `download` is off.
pub fn make_available(
    chosen: &BTreeMap<Variant, ChosenWeights>,
    cache: &Path,
    download: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let options = download.then_some(DownloadOptions {
        variant: None,
        progress: !quiet,
    });
    let (mut missing, mut missing_variants) = (Vec::new(), Vec::new());
    for (variant, status) in hub_status(chosen, cache, options.as_ref())? {
        let origin = &chosen[&variant].origin;
        let model = match &status {
            HubStatus::Cached(model) => model,
            HubStatus::Downloaded(fetched) => {
                if !quiet {
                    eprintln!(
                        "extract: downloaded {} at revision {} from {} ({:.1} MB, sha256 verified) into {}",
                        fetched.model.name,
                        fetched.revision,
                        fetched.endpoint,
                        fetched.bytes as f64 / 1e6,
                        cache.display()
                    );
                }
                &fetched.model
            }
            HubStatus::Missing { name } => {
                missing_variants.push(variant.name());
                missing.push(match origin {
                    WeightsOrigin::Canonical {
                        folder_lacks: Some(path),
                    } => format!(
                        "{variant}'s canonical timm weights {name} (and {} does not exist)",
                        path.display()
                    ),
                    WeightsOrigin::Canonical { folder_lacks: None } => {
                        format!("{variant}'s canonical timm weights {name}")
                    }
                    _ => format!("{name} (--weights for {variant})"),
                });
                continue;
            }
        };
        if matches!(origin, WeightsOrigin::Canonical { .. }) && !quiet {
            eprintln!(
                "extract: {variant} uses the canonical timm weights {}: {}",
                model.name,
                model.weights.display()
            );
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "no weights for {}: not in the Hugging Face cache at {}: {}; get them with: {} (or name \
         other weights with --weights VARIANT=FILE|HF_NAME|random[:SEED] or --weights-dir DIR)",
        missing_variants.join(", "),
        cache.display(),
        missing.join("; "),
        this_command_with("--download")
    )
}

/// The command line this process was started with, `flag` added, quoted for a
/// POSIX shell.
fn this_command_with(flag: &str) -> String {
    std::env::args()
        .chain([flag.to_string()])
        .map(|arg| shell_quoted(&arg))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quoted(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+=:,./@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quoted;

    #[test]
    fn arguments_are_quoted_only_when_a_shell_would_split_or_expand_them() {
        assert_eq!(shell_quoted("--variant"), "--variant");
        assert_eq!(shell_quoted("b0..b3,lite0"), "b0..b3,lite0");
        assert_eq!(shell_quoted("my photos"), "'my photos'");
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
        assert_eq!(shell_quoted("shards/{0..9}.tar"), "'shards/{0..9}.tar'");
        assert_eq!(shell_quoted(""), "''");
    }
}
