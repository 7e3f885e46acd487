use std::path::PathBuf;

use contract::Split;

use crate::splits_file::SplitsFileError;

/// Why a dataset cannot be read as asked. Each message names the file and says
/// how to state what was meant.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: no such file or folder ({what})")]
    NotFound { path: PathBuf, what: &'static str },
    #[error("{path}: cannot read: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a dataset: {reason}")]
    NotADataset { path: PathBuf, reason: String },
    #[error("{pattern}: not a file pattern: {reason} (write shards/train-{{00000..00099}}.tar or data/train-*.parquet)")]
    Pattern { pattern: String, reason: String },
    #[error("{flag} cannot be used {context}")]
    ConflictingOptions {
        flag: &'static str,
        context: &'static str,
    },
    #[error(
        "{path}: no class folders found (expected ROOT/CLASS/* or ROOT/{{train,val,test}}/CLASS/*, or pass --labels MANIFEST)"
    )]
    NoClasses { path: PathBuf },
    #[error(
        "{path}: mixes split folders ({splits}) with other folders ({classes}); if they are all classes, pass --layout flat; otherwise move the class folders into the split folders"
    )]
    MixedLayout {
        path: PathBuf,
        splits: String,
        classes: String,
    },
    #[error(
        "{path}: some labelled images are in split folders ({inside}) and some are not ({outside}); pass --layout flat to split them all by content hash, or move the others into split folders"
    )]
    MixedNameSplits {
        path: PathBuf,
        inside: String,
        outside: String,
    },
    #[error(
        "{path}: the folders {seen} would be read as {inferred}, but {reasons}. Say what they are: --layout flat (they are the classes), --data {path}/FOLDER (the classes are inside one of them), or --labels MANIFEST (a CSV or Parquet file of path,label[,split])"
    )]
    AmbiguousLayout {
        path: PathBuf,
        seen: String,
        inferred: String,
        reasons: String,
    },
    #[error(
        "{path}: `{name}` could be the val or the test split; rename it (val/ or test/), or pass --labels MANIFEST with a split column"
    )]
    AmbiguousSplitName { path: PathBuf, name: String },
    #[error("{path}: with --layout splits every top-level folder must name a split (train, val, test or their usual spellings), but {folders} do not")]
    NotSplitFolders { path: PathBuf, folders: String },
    #[error("{path}: both `{first}` and `{second}` name the {split} split")]
    DuplicateSplitFolder {
        path: PathBuf,
        first: String,
        second: String,
        split: Split,
    },
    #[error("{path}: only one class was found ({class}); a classifier needs two or more{hint}")]
    OneClass {
        path: PathBuf,
        class: String,
        hint: String,
    },
    #[error("{path}: no usable images{detail}")]
    NoImages { path: PathBuf, detail: String },
    #[error("{path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("{manifest}: none of its {rows} paths exists under {root} (the first is {first:?}); paths are relative to --data")]
    ManifestMatchesNothing {
        manifest: PathBuf,
        root: PathBuf,
        rows: usize,
        first: String,
    },
    #[error("{path}: holds both {first} and {second}; point --data at one kind")]
    MixedInputs {
        path: PathBuf,
        first: String,
        second: String,
    },
    #[error("{path}: some shards name a split ({named}) and some do not ({unnamed}); name every shard by its split (train-00000.tar) or none (then the content hash splits)")]
    MixedShardSplits {
        path: PathBuf,
        named: String,
        unnamed: String,
    },
    /// Object storage refused or could not answer: a missing bucket or
    /// object (`missing`), a denied request, an unreachable endpoint.
    #[error("{location}: {reason}")]
    Storage {
        location: String,
        reason: String,
        missing: bool,
    },
    #[error(transparent)]
    SplitsFile(#[from] SplitsFileError),
}

impl DatasetError {
    /// A bad command line (exit code 2) rather than bad data (exit code 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            DatasetError::NotFound { .. }
                | DatasetError::Pattern { .. }
                | DatasetError::ConflictingOptions { .. }
                | DatasetError::Storage { missing: true, .. }
        )
    }
}
