//! WebDataset tar shards, as img2dataset and most large pipelines write them:
//! members sharing a key (the member name up to the first dot of its last
//! component) are one sample, its image from `jpg|jpeg|png|webp`, its label from
//! `cls` (integer text) or `json` (`label` or `class` field), or from a `--labels`
//! manifest keyed by the sample key. Each shard is read once, sequentially, to
//! hash and check every image; the pipeline later reads each image in place at
//! its offset, so nothing is unpacked to disk. A truncated or corrupt shard is a
//! problem naming the shard and member, and the samples before it are kept.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use contract::Split;
use rayon::prelude::*;

use crate::collect::{splits_from_file_names, ClassOrder, Collected, Found};
use crate::inspect::{inspect_bytes, Inspection};
use crate::manifest::Manifest;
use crate::report::{Layout, Problem, SplitsFrom};
use crate::tree::FileTree;
use crate::walk::relative_path;
use crate::DatasetError;

const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];
/// Label members are a few bytes; anything far larger is not a label.
const MAX_LABEL_BYTES: u64 = 1 << 20;

/// Whether a file name is a shard (`.tar`) or a compressed one we refuse.
pub fn is_shard_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.ends_with(".tar") || lower.ends_with(".tar.gz") || lower.ends_with(".tgz")
}

/// (key, extension) of a member name, as webdataset splits it: `a/b.seg.png` →
/// (`a/b`, `seg.png`). Names without a dot in their last component are no
/// sample's part.
fn key_and_extension(name: &str) -> Option<(&str, String)> {
    let start = name.rfind('/').map_or(0, |i| i + 1);
    let dot = start + name[start..].find('.')?;
    if dot == start {
        return None;
    }
    Some((&name[..dot], name[dot + 1..].to_lowercase()))
}

#[derive(Default)]
struct Sample {
    image: Option<Member>,
    other_images: Vec<String>,
    cls: Option<(String, String)>,
    json: Option<(String, Result<Option<String>, String>)>,
}

struct Member {
    name: String,
    offset: u64,
    size: u64,
    inspection: Result<Inspection, String>,
}

struct ShardRead {
    /// In member order.
    samples: Vec<(String, Sample)>,
    problems: Vec<Problem>,
}

fn label_in_json(bytes: &[u8]) -> Result<Option<String>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    for field in ["label", "class"] {
        match value.get(field) {
            Some(serde_json::Value::String(s)) => return Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => {
                return Ok(Some(n.to_string()))
            }
            Some(serde_json::Value::Null) | None => {}
            Some(other) => return Err(format!("its {field:?} is {other}, not a label")),
        }
    }
    Ok(None)
}

fn read_member(entry: &mut impl Read, size: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    entry.read_to_end(&mut bytes)?;
    if (bytes.len() as u64) < size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{} of {size} bytes before the file ends", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// Reads one shard sequentially: every image hashed and checked, every label read.
fn read_shard(tree: &FileTree, path: &Path, shown: &str, full_decode: bool) -> ShardRead {
    let mut read = ShardRead {
        samples: Vec::new(),
        problems: Vec::new(),
    };
    let problem = |member: Option<&str>, reason: String| Problem {
        path: member.map_or_else(|| shown.to_string(), |m| format!("{shown}/{m}")),
        reason,
    };
    let lower = shown.to_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        read.problems.push(problem(
            None,
            "a compressed shard: decompress it (gunzip) so its images can be read in place".into(),
        ));
        return read;
    }
    let file = match tree.open(path) {
        Ok(file) => file,
        Err(e) => {
            read.problems
                .push(problem(None, format!("cannot read: {e}")));
            return read;
        }
    };
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, file));
    let entries = match archive.entries() {
        Ok(entries) => entries,
        Err(e) => {
            read.problems
                .push(problem(None, format!("not a readable tar: {e}")));
            return read;
        }
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut last_member: Option<String> = None;
    let mut members = 0usize;
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let reason = match &last_member {
                    Some(m) => format!("corrupt or truncated tar after member {m}: {e}; the samples before it are kept"),
                    None => format!("not a readable tar: {e}"),
                };
                read.problems.push(problem(None, reason));
                break;
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        members += 1;
        let name = entry.path().map_or_else(
            |_| String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            |p| p.to_string_lossy().into_owned(),
        );
        last_member = Some(name.clone());
        let Some((key, extension)) = key_and_extension(&name) else {
            continue;
        };
        let key = key.to_string();
        let (offset, size) = (entry.raw_file_position(), entry.size());
        let is_image = IMAGE_EXTENSIONS.contains(&extension.as_str());
        let is_label = extension == "cls" || extension == "json";
        if !is_image && !is_label {
            continue;
        }
        if is_label && size > MAX_LABEL_BYTES {
            read.problems.push(problem(
                Some(&name),
                format!("{size} bytes is too large for a label"),
            ));
            continue;
        }
        let bytes = match read_member(&mut entry, size) {
            Ok(bytes) => bytes,
            Err(e) => {
                read.problems.push(problem(
                    Some(&name),
                    format!("truncated shard: {e}; the samples before it are kept"),
                ));
                // The sample this member belongs to is incomplete: drop it.
                if let Some(i) = index.remove(&key) {
                    read.samples[i].1 = Sample::default();
                }
                break;
            }
        };
        let slot = *index.entry(key.clone()).or_insert_with(|| {
            read.samples.push((key.clone(), Sample::default()));
            read.samples.len() - 1
        });
        let sample = &mut read.samples[slot].1;
        match extension.as_str() {
            "cls" => {
                let text = String::from_utf8_lossy(&bytes).trim().to_string();
                if sample.cls.replace((name.clone(), text)).is_some() {
                    read.problems.push(problem(
                        Some(&name),
                        "a second cls member for the same sample key".into(),
                    ));
                }
            }
            "json" => {
                if sample
                    .json
                    .replace((name.clone(), label_in_json(&bytes)))
                    .is_some()
                {
                    read.problems.push(problem(
                        Some(&name),
                        "a second json member for the same sample key".into(),
                    ));
                }
            }
            _ if sample.image.is_some() => sample.other_images.push(name.clone()),
            _ => {
                sample.image = Some(Member {
                    inspection: inspect_bytes(&bytes, full_decode),
                    name,
                    offset,
                    size,
                })
            }
        }
    }
    read.samples
        .retain(|(_, s)| s.image.is_some() || s.cls.is_some() || s.json.is_some());
    if members == 0 && read.problems.is_empty() {
        read.problems
            .push(problem(None, "an empty tar: no members".into()));
    } else if members > 0
        && read.samples.iter().all(|(_, s)| s.image.is_none())
        && read.problems.is_empty()
    {
        read.problems.push(problem(
            None,
            format!("{members} member(s) but no image (.jpg, .jpeg, .png or .webp) among them"),
        ));
    }
    read
}

/// The label a sample gives itself, or why it has none.
fn own_label(sample: &Sample) -> Result<String, String> {
    let cls = sample.cls.as_ref().map(|(name, text)| {
        text.parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| format!("{name} holds {text:?}, not an integer class"))
    });
    let json = match &sample.json {
        Some((name, Err(reason))) => Some(Err(format!("{name}: {reason}"))),
        Some((_, Ok(Some(label)))) => Some(Ok(label.clone())),
        _ => None,
    };
    match (cls, json) {
        (Some(Ok(a)), Some(Ok(b))) if a != b => Err(format!(
            "its cls says {a} and its json says {b}"
        )),
        (Some(result), _) => result,
        (None, Some(result)) => result,
        (None, None) => Err(
            "no label: no .cls member and no .json with a label or class field (or pass --labels MANIFEST keyed by sample key)".into(),
        ),
    }
}

pub fn collect(
    tree: &FileTree,
    root: &Path,
    shards: &[PathBuf],
    manifest: Option<&Manifest>,
    full_decode: bool,
) -> Result<Collected, DatasetError> {
    let shown: Vec<String> = shards.iter().map(|s| relative_path(root, s)).collect();
    let reads: Vec<ShardRead> = shards
        .par_iter()
        .zip(shown.par_iter())
        .map(|(path, shown)| read_shard(tree, path, shown, full_decode))
        .collect();

    let mut problems = Vec::new();
    let mut notes = vec![format!("{} shard(s)", shards.len())];
    // Sample key → (manifest line, label, split).
    type Listed = BTreeMap<String, (usize, String, Option<Split>)>;
    let by_manifest: Option<Listed> = manifest.map(|m| {
        m.checked_rows(&mut problems)
            .into_iter()
            .map(|row| {
                let key = key_and_extension(&row.path)
                    .map_or(row.path.clone(), |(key, _)| key.to_string());
                (key, (row.line, row.label, row.split))
            })
            .collect()
    });
    let manifest_splits = manifest.is_some_and(|m| m.has_split_column);

    let (splits_from, shard_splits) = if manifest_splits {
        (SplitsFrom::ManifestColumn, vec![None; shards.len()])
    } else {
        splits_from_file_names(root, &shown)?
    };

    let mut found = Vec::new();
    let mut used_keys: BTreeMap<String, ()> = BTreeMap::new();
    let mut unlisted = 0usize;
    for (shard_index, read) in reads.into_iter().enumerate() {
        problems.extend(read.problems);
        let at = |member: &str| format!("{}/{member}", shown[shard_index]);
        for (key, sample) in read.samples {
            let Some(image) = sample.image.as_ref() else {
                problems.push(Problem {
                    path: at(&key),
                    reason: "no image member (.jpg, .jpeg, .png or .webp) for this sample".into(),
                });
                continue;
            };
            if !sample.other_images.is_empty() {
                problems.push(Problem {
                    path: at(&image.name),
                    reason: format!(
                        "the sample has more than one image ({}); which one is meant?",
                        std::iter::once(image.name.clone())
                            .chain(sample.other_images.iter().cloned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
                continue;
            }
            let (label, manifest_split) = match &by_manifest {
                Some(rows) => match rows.get(&key) {
                    Some((_, label, split)) => {
                        used_keys.insert(key.clone(), ());
                        (Ok(label.clone()), *split)
                    }
                    None => {
                        unlisted += 1;
                        continue;
                    }
                },
                None => (own_label(&sample), None),
            };
            let label = match label {
                Ok(label) => label,
                Err(reason) => {
                    problems.push(Problem {
                        path: at(&image.name),
                        reason,
                    });
                    continue;
                }
            };
            let inspection = match &image.inspection {
                Ok(inspection) => inspection.clone(),
                Err(reason) => {
                    problems.push(Problem {
                        path: at(&image.name),
                        reason: reason.clone(),
                    });
                    continue;
                }
            };
            let split = match splits_from {
                SplitsFrom::ManifestColumn => manifest_split,
                SplitsFrom::ShardNames => shard_splits[shard_index],
                _ => None,
            };
            let source = match tree.member_source(&shards[shard_index], image.offset, image.size) {
                Ok(source) => source,
                Err(e) => {
                    problems.push(Problem {
                        path: at(&image.name),
                        reason: format!("cannot read: {e}"),
                    });
                    continue;
                }
            };
            found.push(Found {
                path: at(&image.name),
                source,
                class: label,
                split,
                inspection,
            });
        }
    }
    if let (Some(rows), Some(manifest)) = (&by_manifest, manifest) {
        for (key, (line, _, _)) in rows {
            if !used_keys.contains_key(key) {
                problems.push(Problem {
                    path: key.clone(),
                    reason: format!(
                        "{} {} {line}: no sample with this key in the shards",
                        manifest.path.display(),
                        manifest.line_word
                    ),
                });
            }
        }
        notes.push(format!("labels from {}", manifest.path.display()));
        if unlisted > 0 {
            notes.push(format!(
                "{unlisted} sample(s) are not in the manifest: ignored"
            ));
        }
    }
    Ok(Collected {
        root: root.to_path_buf(),
        layout: Layout::Webdataset,
        splits_from,
        class_order: ClassOrder::NumbersFirst,
        found,
        problems,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_keys_as_webdataset_splits_them() {
        assert_eq!(
            key_and_extension("a/b.seg.PNG"),
            Some(("a/b", "seg.png".to_string()))
        );
        assert_eq!(
            key_and_extension("000123.jpg"),
            Some(("000123", "jpg".into()))
        );
        assert_eq!(key_and_extension("README"), None);
        assert_eq!(key_and_extension("dir.x/.hidden"), None);
    }
}
