use std::fmt;
use std::str::FromStr;

/// `--shard K/N`: this process handles the images whose key falls in shard K of N
/// (K counted from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// By the key's leading 8 bytes: uniform (blake3) and independent of the split,
    /// which draws from a domain-separated hash.
    pub fn contains(&self, key: &str) -> bool {
        let leading = key
            .get(..16)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .unwrap_or(0);
        leading % u64::from(self.count) == u64::from(self.index)
    }

    /// File-name tag, sortable: `shard-00003-of-00008`.
    pub fn tag(&self) -> String {
        format!("shard-{:05}-of-{:05}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (index, count) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (e.g. 0/8)"))?;
        let parse = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("{s:?}: {e}"));
        let (index, count) = (parse(index)?, parse(count)?);
        if count == 0 || index >= count {
            return Err(format!("{s:?}: need 0 <= K < N"));
        }
        Ok(Shard { index, count })
    }
}
