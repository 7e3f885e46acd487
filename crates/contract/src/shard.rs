//! Shards: `extract --shard K/N` handles the images whose key falls in shard K of
//! N and writes `VARIANT/shard-0000K-of-0000N.parquet`. The file name is the
//! contract between the shard's writer and every reader of the set, so the name,
//! its parsing and the key-to-shard rule live here, once.

use std::fmt;
use std::str::FromStr;

/// Shard K of N (K counted from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `K < N` and `N > 0`, or why not.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err(format!("{index}/{count}: N must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "{index}/{count}: K must be below N (shards are numbered 0..{})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

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

    /// The shard a file name starting with its [`tag`](Shard::tag) belongs to, and
    /// the rest of the name (`.parquet`, `.done.json`).
    pub fn from_file_name(name: &str) -> Option<(Shard, &str)> {
        let rest = name.strip_prefix("shard-")?;
        let (index, rest) = rest.split_once("-of-")?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (count, suffix) = rest.split_at(digits);
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) || count.is_empty() {
            return None;
        }
        let shard = Shard::new(index.parse().ok()?, count.parse().ok()?).ok()?;
        Some((shard, suffix))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `K/N`, as `--shard` takes it.
impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (index, count) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (e.g. 0/8)"))?;
        let parse = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("{s:?}: {e}"));
        Shard::new(parse(index)?, parse(count)?)
    }
}

/// Shard indices in Slurm's array syntax, ready for `sbatch --array=`: sorted,
/// runs of three or more as ranges (`0,3,5-7`); empty for none.
pub fn array_syntax(indices: &[u32]) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        match j - i {
            0 => parts.push(sorted[i].to_string()),
            1 => {
                parts.push(sorted[i].to_string());
                parts.push(sorted[j].to_string());
            }
            _ => parts.push(format!("{}-{}", sorted[i], sorted[j])),
        }
        i = j + 1;
    }
    parts.join(",")
}

/// `shard 3` or `shards 0,3,5-7`, for messages.
pub fn shards_phrase(indices: &[u32]) -> String {
    match indices {
        [one] => format!("shard {one}"),
        _ => format!("shards {}", array_syntax(indices)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_what_is_not_a_shard() {
        assert_eq!("3/8".parse::<Shard>(), Ok(Shard { index: 3, count: 8 }));
        for bad in ["8/8", "0/0", "x", "1/x", "-1/4", "3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn file_names_round_trip_through_the_tag() {
        let shard = Shard::new(3, 8).unwrap();
        let name = format!("{}.done.json", shard.tag());
        assert_eq!(Shard::from_file_name(&name), Some((shard, ".done.json")));
        assert_eq!(Shard::from_file_name("shard-00008-of-00008.parquet"), None);
        assert_eq!(Shard::from_file_name("b0.parquet"), None);
        assert_eq!(Shard::from_file_name("shard--of-00008.parquet"), None);
    }

    #[test]
    fn indices_print_as_slurm_array_syntax() {
        assert_eq!(array_syntax(&[7, 0, 3, 5, 6]), "0,3,5-7");
        assert_eq!(array_syntax(&[1, 2]), "1,2");
        assert_eq!(array_syntax(&[4]), "4");
        assert_eq!(array_syntax(&[]), "");
        assert_eq!(array_syntax(&[0, 1, 2, 3, 9, 10, 11, 11]), "0-3,9-11");
    }

    #[test]
    fn every_key_falls_in_exactly_one_shard() {
        let keys = ["00ff", "0123456789abcdef00", "ffffffffffffffffff", "zz"];
        for key in keys {
            let owners = (0..5)
                .filter(|k| Shard::new(*k, 5).unwrap().contains(key))
                .count();
            assert_eq!(owners, 1, "{key}");
        }
    }
}
