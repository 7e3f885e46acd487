//! `--shard K/N` or `--shard auto`: which shard this process handles. `auto` reads
//! it from the job engine's environment (Slurm job arrays, Slurm tasks,
//! Kubernetes Indexed Jobs, torchrun), by the rules in [`resolve_auto`].

use std::fmt;
use std::str::FromStr;

pub use contract::Shard;

/// The total shard count where the engine's own count is not it: a Kubernetes
/// Indexed Job, or a Slurm array resubmitted for some of its shards.
pub const NUM_SHARDS_VAR: &str = "EFFPROBE_NUM_SHARDS";

/// Every environment variable `--shard auto` reads (a unit test holds the list
/// to what it asks for): tests clear them so their own engine never leaks in.
pub const ENGINE_VARIABLES: [&str; 12] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_STEP_ID",
    "JOB_COMPLETION_INDEX",
    NUM_SHARDS_VAR,
    "RANK",
    "WORLD_SIZE",
];

/// What `--shard` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardChoice {
    Fixed(Shard),
    /// From the environment, resolved at start.
    Auto,
}

impl FromStr for ShardChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            return Ok(ShardChoice::Auto);
        }
        s.parse::<Shard>()
            .map(ShardChoice::Fixed)
            .map_err(|e| format!("{e}; or auto (from the job engine's environment)"))
    }
}

/// A shard and where it came from, for the start line and the completion record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedShard {
    pub shard: Shard,
    /// `--shard 3/8`, or the variables read: `SLURM_ARRAY_TASK_ID=3,
    /// EFFPROBE_NUM_SHARDS=8`.
    pub source: String,
}

impl fmt::Display for ResolvedShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {} from {}", self.shard, self.source)
    }
}

impl ShardChoice {
    /// The shard, reading the process's environment for `auto`.
    pub fn resolve(self) -> Result<ResolvedShard, ShardError> {
        self.resolve_in(|name| std::env::var(name).ok())
    }

    /// The shard, reading `env` for `auto` (tests pass their own).
    pub fn resolve_in(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ResolvedShard, ShardError> {
        match self {
            ShardChoice::Fixed(shard) => Ok(ResolvedShard {
                shard,
                source: format!("--shard {shard}"),
            }),
            ShardChoice::Auto => resolve_auto(&env),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("--shard auto: no job engine found in the environment; looked for {LOOKED_FOR}. Pass --shard K/N, or set those")]
    NoEngine,
    #[error("--shard auto: {0}")]
    Inconsistent(String),
}

const LOOKED_FOR: &str = "SLURM_ARRAY_TASK_ID (with SLURM_ARRAY_TASK_MIN, _STEP and _COUNT, \
     or EFFPROBE_NUM_SHARDS), SLURM_PROCID with SLURM_NTASKS (in an srun step: SLURM_STEP_ID), \
     JOB_COMPLETION_INDEX with EFFPROBE_NUM_SHARDS (Kubernetes), RANK with WORLD_SIZE (torchrun)";

/// One engine's answer.
struct Candidate {
    shard: Shard,
    source: String,
    /// A job step of one task: no sharding of its own.
    single_task: bool,
}

/// K and N from the first engine whose variables are set:
///
/// * Slurm job array (`SLURM_ARRAY_TASK_ID`): with `EFFPROBE_NUM_SHARDS` set, K is
///   the task id itself and N that count, so `sbatch --array=` may list any
///   subset of 0..N-1 (what `extract status` prints). Without it, K =
///   (ID − MIN) / STEP and N = `SLURM_ARRAY_TASK_COUNT`, and the array must be a
///   whole range.
/// * Slurm tasks (`srun -n N`): K = `SLURM_PROCID`, N = `SLURM_NTASKS`, inside a
///   job step only (`SLURM_STEP_ID` set; the batch script itself is not a task).
/// * Kubernetes Indexed Job: K = `JOB_COMPLETION_INDEX`, N = `EFFPROBE_NUM_SHARDS`.
/// * torchrun: K = `RANK`, N = `WORLD_SIZE`.
///
/// A one-task job step inside an array task is the array's. Engines that
/// disagree, counts that disagree with `EFFPROBE_NUM_SHARDS`, K ≥ N, and
/// non-numbers are errors: nothing is guessed.
fn resolve_auto(env: &dyn Fn(&str) -> Option<String>) -> Result<ResolvedShard, ShardError> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let number = |name: &str| -> Result<Option<u32>, ShardError> {
        match get(name) {
            None => Ok(None),
            Some(text) => text.trim().parse::<u32>().map(Some).map_err(|_| {
                ShardError::Inconsistent(format!("{name}={text:?} is not a whole number"))
            }),
        }
    };
    let shard = |index: u32, count: u32, source: &str| {
        Shard::new(index, count)
            .map_err(|e| ShardError::Inconsistent(format!("{source} gives shard {e}")))
    };
    let num_shards = number(NUM_SHARDS_VAR)?;
    let mut candidates: Vec<Candidate> = Vec::new();

    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let candidate = match num_shards {
            Some(count) => {
                let source = format!("SLURM_ARRAY_TASK_ID={id}, {NUM_SHARDS_VAR}={count}");
                Candidate {
                    shard: shard(id, count, &source).map_err(|e| {
                        ShardError::Inconsistent(format!(
                            "{e}; with {NUM_SHARDS_VAR} set, array indices are shard indices: \
                             use --array=0-{}",
                            count.saturating_sub(1)
                        ))
                    })?,
                    source,
                    single_task: false,
                }
            }
            None => {
                let min = number("SLURM_ARRAY_TASK_MIN")?;
                let max = number("SLURM_ARRAY_TASK_MAX")?;
                let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
                let count = number("SLURM_ARRAY_TASK_COUNT")?;
                let (Some(min), Some(count)) = (min, count) else {
                    return Err(ShardError::Inconsistent(format!(
                        "SLURM_ARRAY_TASK_ID={id} but SLURM_ARRAY_TASK_MIN or \
                         SLURM_ARRAY_TASK_COUNT is not set; set {NUM_SHARDS_VAR}=N"
                    )));
                };
                let source = format!(
                    "SLURM_ARRAY_TASK_ID={id} of SLURM_ARRAY_TASK_MIN={min}, \
                     SLURM_ARRAY_TASK_STEP={step}, SLURM_ARRAY_TASK_COUNT={count}"
                );
                let whole_range = max.is_none_or(|max| {
                    max >= min && (max - min) % step == 0 && (max - min) / step + 1 == count
                });
                if id < min || (id - min) % step != 0 || !whole_range {
                    return Err(ShardError::Inconsistent(format!(
                        "{source}{}: the array is not one range, so its tasks are not \
                         shards 0..N-1 of one set (a resubmission of some shards?); set \
                         {NUM_SHARDS_VAR}=N to make the array index the shard index",
                        max.map(|m| format!(", SLURM_ARRAY_TASK_MAX={m}"))
                            .unwrap_or_default()
                    )));
                }
                Candidate {
                    shard: shard((id - min) / step, count, &source)?,
                    source,
                    single_task: false,
                }
            }
        };
        candidates.push(candidate);
    }

    if get("SLURM_STEP_ID").is_some() {
        if let (Some(rank), Some(count)) = (number("SLURM_PROCID")?, number("SLURM_NTASKS")?) {
            let source = format!("SLURM_PROCID={rank}, SLURM_NTASKS={count}");
            candidates.push(Candidate {
                shard: shard(rank, count, &source)?,
                source,
                single_task: count == 1,
            });
        }
    }

    if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let Some(count) = num_shards else {
            return Err(ShardError::Inconsistent(format!(
                "JOB_COMPLETION_INDEX={index} is set (a Kubernetes Indexed Job) but \
                 {NUM_SHARDS_VAR} is not: set it to the Job's completions"
            )));
        };
        let source = format!("JOB_COMPLETION_INDEX={index}, {NUM_SHARDS_VAR}={count}");
        candidates.push(Candidate {
            shard: shard(index, count, &source)?,
            source,
            single_task: false,
        });
    }

    if let (Some(rank), Some(count)) = (number("RANK")?, number("WORLD_SIZE")?) {
        let source = format!("RANK={rank}, WORLD_SIZE={count}");
        candidates.push(Candidate {
            shard: shard(rank, count, &source)?,
            source,
            single_task: false,
        });
    }

    if candidates.len() > 1 {
        candidates.retain(|c| !c.single_task);
    }
    let Some(first) = candidates.first() else {
        if let (Some(_), None) = (get("SLURM_NTASKS"), get("SLURM_STEP_ID")) {
            return Err(ShardError::Inconsistent(format!(
                "SLURM_NTASKS is set but this is the batch script, not a task started by \
                 srun: run `srun extract ... --shard auto`, or use a job array; looked for \
                 {LOOKED_FOR}"
            )));
        }
        return Err(ShardError::NoEngine);
    };
    if let Some(other) = candidates.iter().find(|c| c.shard != first.shard) {
        return Err(ShardError::Inconsistent(format!(
            "the environment names two shards: {} from {} and {} from {}; pass --shard K/N",
            first.shard, first.source, other.shard, other.source
        )));
    }
    if let Some(count) = num_shards.filter(|&n| n != first.shard.count) {
        return Err(ShardError::Inconsistent(format!(
            "{} gives {} shards but {NUM_SHARDS_VAR}={count}",
            first.source, first.shard.count
        )));
    }
    Ok(ResolvedShard {
        shard: first.shard,
        source: first.source.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(vars: &[(&str, &str)]) -> Result<ResolvedShard, String> {
        ShardChoice::Auto
            .resolve_in(|name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
            .map_err(|e| e.to_string())
    }

    fn shard(vars: &[(&str, &str)]) -> String {
        auto(vars).unwrap().shard.to_string()
    }

    #[test]
    fn engine_variables_lists_every_variable_auto_reads() {
        // Every name set, then none: each branch asks for its variables.
        for set in [true, false] {
            let asked = std::cell::RefCell::new(Vec::new());
            let _ = ShardChoice::Auto.resolve_in(|name| {
                asked.borrow_mut().push(name.to_string());
                set.then(|| "1".to_string())
            });
            for name in asked.into_inner() {
                assert!(ENGINE_VARIABLES.contains(&name.as_str()), "{name} unlisted");
            }
        }
    }

    #[test]
    fn slurm_arrays_count_from_their_first_index_by_their_step() {
        let array = |id: &'static str| {
            shard(&[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "15"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
                ("SLURM_PROCID", "0"),
            ])
        };
        assert_eq!(array("1"), "0/8");
        assert_eq!(array("15"), "7/8");
        let resolved = auto(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ])
        .unwrap();
        assert_eq!(resolved.shard, Shard::new(3, 4).unwrap());
        assert!(
            resolved.source.contains("SLURM_ARRAY_TASK_ID=3"),
            "{resolved}"
        );
    }

    #[test]
    fn a_resubmitted_array_needs_the_shard_count_and_then_its_index_is_the_shard() {
        // sbatch --array=0,3,5-7 as Slurm 22.05 describes it.
        let resubmitted = [
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "5"),
        ];
        let error = auto(&resubmitted).unwrap_err();
        assert!(
            error.contains("not one range") && error.contains(NUM_SHARDS_VAR),
            "{error}"
        );
        let mut with_count = resubmitted.to_vec();
        with_count.push((NUM_SHARDS_VAR, "8"));
        assert_eq!(shard(&with_count), "7/8");
        with_count.push(("SLURM_ARRAY_TASK_ID", "9"));
        with_count.remove(0);
        let error = auto(&with_count).unwrap_err();
        assert!(
            error.contains("9/8") && error.contains("--array=0-7"),
            "{error}"
        );
    }

    #[test]
    fn slurm_tasks_count_only_inside_an_srun_step() {
        let step = [
            ("SLURM_PROCID", "2"),
            ("SLURM_NTASKS", "4"),
            ("SLURM_STEP_ID", "0"),
        ];
        assert_eq!(shard(&step), "2/4");
        let error = auto(&step[..2]).unwrap_err();
        assert!(
            error.contains("batch script") && error.contains("srun"),
            "{error}"
        );
        // One srun task inside an array task is the array's task.
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_COUNT", "2"),
                ("SLURM_PROCID", "0"),
                ("SLURM_NTASKS", "1"),
                ("SLURM_STEP_ID", "0"),
            ]),
            "1/2"
        );
        let error = auto(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_PROCID", "3"),
            ("SLURM_NTASKS", "4"),
            ("SLURM_STEP_ID", "0"),
        ])
        .unwrap_err();
        assert!(error.contains("two shards"), "{error}");
    }

    #[test]
    fn kubernetes_indexed_jobs_take_the_count_from_effprobe_num_shards() {
        assert_eq!(
            shard(&[("JOB_COMPLETION_INDEX", "5"), (NUM_SHARDS_VAR, "8")]),
            "5/8"
        );
        let error = auto(&[("JOB_COMPLETION_INDEX", "5")]).unwrap_err();
        assert!(error.contains(NUM_SHARDS_VAR), "{error}");
        let error = auto(&[("JOB_COMPLETION_INDEX", "8"), (NUM_SHARDS_VAR, "8")]).unwrap_err();
        assert!(error.contains("8/8"), "{error}");
    }

    #[test]
    fn torchrun_ranks_are_shards() {
        assert_eq!(shard(&[("RANK", "1"), ("WORLD_SIZE", "2")]), "1/2");
        let error = auto(&[("RANK", "1"), ("WORLD_SIZE", "2"), (NUM_SHARDS_VAR, "4")]).unwrap_err();
        assert!(error.contains("EFFPROBE_NUM_SHARDS=4"), "{error}");
        let error = auto(&[("RANK", "x"), ("WORLD_SIZE", "2")]).unwrap_err();
        assert!(error.contains("RANK=\"x\""), "{error}");
    }

    #[test]
    fn no_engine_names_every_variable_looked_for() {
        let error = auto(&[]).unwrap_err();
        for name in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_PROCID",
            "JOB_COMPLETION_INDEX",
            "EFFPROBE_NUM_SHARDS",
            "RANK",
            "WORLD_SIZE",
        ] {
            assert!(error.contains(name), "{name}: {error}");
        }
    }

    #[test]
    fn the_flag_takes_k_of_n_or_auto() {
        assert_eq!("auto".parse::<ShardChoice>(), Ok(ShardChoice::Auto));
        assert_eq!(
            "2/4".parse::<ShardChoice>(),
            Ok(ShardChoice::Fixed(Shard::new(2, 4).unwrap()))
        );
        assert!("4/4".parse::<ShardChoice>().is_err());
        assert!("automatic".parse::<ShardChoice>().is_err());
    }
}
