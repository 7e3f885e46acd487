//! `contrib/slurm/extract.sbatch` on a real Slurm: a single-node cluster from
//! Debian's packages (munged, slurmctld -D, slurmd -D in the foreground, a
//! temporary configuration, free ports), started and stopped by this test.
//!
//! The recipe runs as a 4-task array over hymenoptera with random Lite0 weights
//! on the CPU. Task 1 finds its shard held by another process (this test), fails
//! and is requeued by the recipe; task 2 is cancelled mid-shard. `extract status`
//! must then name shard 2 (and only it) as missing; resubmitting exactly what it
//! prints completes the set, whose features must equal one process's, bit for bit.
//!
//! Needs root (slurmd launches jobs) and the packages (`.ci/run` installs them);
//! without them the test skips visibly, under CI=true it fails, and a Slurm that
//! does not start fails it with the daemons' logs.

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use effprobe_tests::{release_binaries, workspace_file};
use extract::pipeline::shard::ENGINE_VARIABLES;

/// What the test runs: Slurm and munge (`.ci/run` installs them), `timeout`
/// (coreutils) and `kill` (procps).
const PROGRAMS: [&str; 10] = [
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "scancel",
    "scontrol",
    "sinfo",
    "timeout",
    "kill",
];

/// Every wait of the test ends by then: nothing here may hang CI.
const PATIENCE: Duration = Duration::from_secs(240);

fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The three daemons, killed (after cancelling every job) when dropped; their
/// logs are printed if the test is failing.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    daemons: RefCell<Vec<(&'static str, Child)>>,
}

impl Cluster {
    fn start(dir: &Path) -> Result<Cluster, String> {
        let dir = dir.to_path_buf();
        for sub in ["munge", "state", "spool", "log"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
        }
        let munge = dir.join("munge");
        let key = munge.join("munge.key");
        let mut bytes = vec![0u8; 128];
        File::open("/dev/urandom")
            .and_then(|mut r| std::io::Read::read_exact(&mut r, &mut bytes))
            .map_err(|e| e.to_string())?;
        std::fs::write(&key, &bytes).map_err(|e| e.to_string())?;
        let owner_only = |path: &Path, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        };
        owner_only(&key, 0o600).map_err(|e| e.to_string())?;
        owner_only(&munge, 0o700).map_err(|e| e.to_string())?;
        let socket = munge.join("munge.socket");
        let conf = dir.join("slurm.conf");
        let at = |name: &str| dir.join(name).display().to_string();
        let text = format!(
            "ClusterName=effprobe-test\n\
             SlurmctldHost=localhost\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             SlurmctldPort={ctld}\n\
             SlurmdPort={slurmd}\n\
             AuthType=auth/munge\n\
             AuthInfo=socket={socket},cred_expire=5\n\
             CredType=cred/munge\n\
             StateSaveLocation={state}\n\
             SlurmdSpoolDir={spool}\n\
             SlurmctldPidFile={ctld_pid}\n\
             SlurmdPidFile={slurmd_pid}\n\
             SlurmctldLogFile={ctld_log}\n\
             SlurmdLogFile={slurmd_log}\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SlurmdParameters=config_overrides\n\
             SchedulerType=sched/backfill\n\
             SchedulerParameters=sched_interval=1\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\n\
             ReturnToService=2\n\
             MpiDefault=none\n\
             KillWait=5\n\
             JobCompType=jobcomp/none\n\
             AccountingStorageType=accounting_storage/none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             NodeName=localhost CPUs=4 RealMemory=2000 State=UNKNOWN\n\
             PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n",
            ctld = free_port(),
            slurmd = free_port(),
            socket = socket.display(),
            state = at("state"),
            spool = at("spool"),
            ctld_pid = at("slurmctld.pid"),
            slurmd_pid = at("slurmd.pid"),
            ctld_log = at("log/slurmctld.log"),
            slurmd_log = at("log/slurmd.log"),
        );
        std::fs::write(&conf, text).map_err(|e| e.to_string())?;

        let cluster = Cluster {
            dir: dir.clone(),
            conf: conf.clone(),
            daemons: RefCell::new(Vec::new()),
        };
        let at_munge = |name: &str| munge.join(name).display().to_string();
        let daemons: [(&'static str, Vec<String>); 3] = [
            (
                "munged",
                vec![
                    "--foreground".into(),
                    "--force".into(),
                    format!("--key-file={}", key.display()),
                    format!("--socket={}", socket.display()),
                    format!("--pid-file={}", at_munge("munged.pid")),
                    format!("--seed-file={}", at_munge("munged.seed")),
                    format!("--log-file={}", at_munge("munged.log")),
                ],
            ),
            (
                "slurmctld",
                vec!["-D".into(), "-f".into(), conf.display().to_string()],
            ),
            (
                "slurmd",
                vec![
                    "-D".into(),
                    "-N".into(),
                    "localhost".into(),
                    "-f".into(),
                    conf.display().to_string(),
                ],
            ),
        ];
        for (name, args) in daemons {
            let log =
                File::create(dir.join(format!("log/{name}.out"))).map_err(|e| e.to_string())?;
            let err = log.try_clone().map_err(|e| e.to_string())?;
            // `timeout` bounds each daemon's life even if this test process is
            // killed before it can stop them, and passes our SIGTERM on to the
            // daemon (then SIGKILL if it lingers): killing `timeout` itself
            // would leave the daemon running.
            let child = Command::new("timeout")
                .args(["--kill-after=10", "900"])
                .arg(program(name).ok_or(format!("{name} not found"))?)
                .args(&args)
                .env("SLURM_CONF", &conf)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("starting {name}: {e}"))?;
            cluster.daemons.borrow_mut().push((name, child));
            if name == "munged" {
                cluster.wait_for(Duration::from_secs(20), "munged's socket", || {
                    socket.exists()
                })?;
            }
        }
        cluster.wait_for(Duration::from_secs(60), "the node to be idle", || {
            cluster
                .run("sinfo", &["-h", "-o", "%T"])
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        })?;
        Ok(cluster)
    }

    /// A Slurm client command of this cluster.
    fn command(&self, name: &str) -> Command {
        let mut command = Command::new(program(name).expect("checked before starting"));
        command.env("SLURM_CONF", &self.conf);
        for variable in ENGINE_VARIABLES {
            command.env_remove(variable);
        }
        command
    }

    fn run(&self, name: &str, args: &[&str]) -> std::io::Result<Output> {
        self.command(name).args(args).output()
    }

    /// Polls `done` until it holds; a daemon that exits or the deadline ends the
    /// wait with the logs.
    fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        mut done: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if done() {
                return Ok(());
            }
            for (name, child) in self.daemons.borrow_mut().iter_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "{name} exited ({status}) while waiting for {what}\n{}",
                        self.logs()
                    ));
                }
            }
            if Instant::now() > deadline {
                return Err(format!("no {what} after {limit:?}\n{}", self.logs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        for name in [
            "munge/munged.log",
            "log/munged.out",
            "log/slurmctld.out",
            "log/slurmctld.log",
            "log/slurmd.out",
            "log/slurmd.log",
        ] {
            let log = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            text.push_str(&format!("--- {name} (last {} lines)\n", tail.len()));
            for line in tail.into_iter().rev() {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }

    /// Submits the recipe over `array` with `extract_args`; returns the job id.
    fn submit(&self, array: &str, work: &Path, bin: &Path, extract_args: &[String]) -> String {
        let output = self
            .command("sbatch")
            .arg("--parsable")
            .arg(format!("--array={array}"))
            // No GPUs here, and four 1-CPU tasks on a 4-CPU node: the recipe's
            // #SBATCH lines give way to the command line's.
            .args(["--gres=none", "--cpus-per-task=1"])
            .arg(format!("--chdir={}", work.display()))
            .arg(format!("--output={}/task-%A_%a.log", work.display()))
            .env("EFFPROBE_NUM_SHARDS", "4")
            .env("EFFPROBE_EXTRACT", bin.join("extract"))
            .arg(workspace_file("contrib/slurm/extract.sbatch"))
            .args(extract_args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "sbatch failed: {}{}",
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
        stdout.trim().split(';').next().unwrap().to_string()
    }

    /// `%T %r` of array task `task` of `job` (empty once it left the queue).
    fn state(&self, task: &str) -> String {
        let output = self
            .run("squeue", &["-h", "-j", task, "-o", "%T %r"])
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn queue_empty(&self) -> bool {
        self.run("squeue", &["-h", "-o", "%i"]).is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).trim().is_empty()
        })
    }
}

impl Cluster {
    /// The daemons' pids, from their pid files.
    fn daemon_pids(&self) -> Vec<(&'static str, u32)> {
        [
            ("munged", "munge/munged.pid"),
            ("slurmctld", "slurmctld.pid"),
            ("slurmd", "slurmd.pid"),
        ]
        .into_iter()
        .filter_map(|(name, file)| {
            let text = std::fs::read_to_string(self.dir.join(file)).ok()?;
            Some((name, text.trim().parse().ok()?))
        })
        .collect()
    }

    /// Cancels every job and stops the daemons (SIGTERM through `timeout`,
    /// which sends SIGKILL 10 s later if one lingers); returns those of the
    /// daemons still alive afterwards.
    fn stop(&mut self) -> Vec<String> {
        if self.daemons.get_mut().is_empty() {
            return Vec::new();
        }
        let pids = self.daemon_pids();
        // Slurm's clients wait long for a controller that is gone: cancel only
        // while every daemon runs.
        let all_up = self
            .daemons
            .get_mut()
            .iter_mut()
            .all(|(_, child)| matches!(child.try_wait(), Ok(None)));
        if all_up {
            let _ = self.run("scancel", &["--user=root"]);
            let deadline = Instant::now() + Duration::from_secs(15);
            while !self.queue_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        for (_, child) in self.daemons.get_mut().iter_mut().rev() {
            if let Ok(None) = child.try_wait() {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for (_, child) in self.daemons.get_mut().iter_mut() {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.daemons.get_mut().clear();
        pids.into_iter()
            .filter(|&(_, pid)| alive(pid))
            .map(|(name, pid)| format!("{name} (pid {pid})"))
            .collect()
    }
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the parenthesised command name.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("slurm daemons' logs:\n{}", self.logs());
        }
        let left = self.stop();
        if !left.is_empty() {
            eprintln!("slurm daemons still alive: {}", left.join(", "));
        }
    }
}

/// The pid of the extract holding shard `shard`'s lock in `out`, once its lock
/// file says it runs.
fn running_pid(out: &Path, tag: &str) -> Option<u32> {
    let text = std::fs::read_to_string(out.join(format!(".lock-{tag}"))).ok()?;
    let holder: serde_json::Value = serde_json::from_str(&text).ok()?;
    if holder["running"] != true {
        return None;
    }
    holder["pid"].as_u64().map(|pid| pid as u32)
}

fn status(bin: &Path, out: &Path) -> (i32, String) {
    let output = Command::new(bin.join("extract"))
        .args(["status", "--out"])
        .arg(out)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn task_logs(work: &Path) -> String {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(work)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
    logs.sort();
    logs.iter()
        .map(|p| {
            format!(
                "--- {}\n{}",
                p.display(),
                std::fs::read_to_string(p).unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn the_sbatch_recipe_runs_as_an_array_and_a_resubmission_of_what_status_names_completes_it() {
    let Some(bin) = release_binaries() else {
        return;
    };
    let Some(data) = testkit::shared_dataset("hymenoptera") else {
        return;
    };
    let missing: Vec<&str> = PROGRAMS
        .iter()
        .copied()
        .filter(|p| program(p).is_none())
        .collect();
    if !missing.is_empty() {
        testkit::skip_or_fail::<()>(&format!(
            "{} not installed: apt-get install slurm-wlm munge procps coreutils (.ci/run does)",
            missing.join(", ")
        ));
        return;
    }
    if !is_root() {
        testkit::skip_or_fail::<()>("a single-node Slurm needs root to run slurmd");
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let cluster = match Cluster::start(&dir.path().join("slurm")) {
        Ok(cluster) => cluster,
        Err(why) => {
            testkit::skip_or_fail::<()>(&format!("Slurm did not start: {why}"));
            return;
        }
    };
    let up = started.elapsed();
    let work = dir.path().join("work");
    let out = work.join("features");
    std::fs::create_dir_all(&out).unwrap();
    // One image per forward pass on one thread (the recipe passes --threads from
    // --cpus-per-task) at a small input: tasks slow enough to catch mid-shard,
    // the whole test in tens of seconds.
    let args = |out: &Path| -> Vec<String> {
        [
            "--variant",
            "lite0",
            "--weights",
            "random:0",
            "--device",
            "cpu",
            "--batch-size",
            "1",
            "--input-size",
            "128",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(["--data".into(), data.display().to_string()])
        .chain(["--out".into(), out.display().to_string()])
        .collect()
    };

    // Another process holds shard 1 (a run that is still going): its task fails
    // and the recipe requeues it.
    let held = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out.join(".lock-shard-00001-of-00004"))
        .unwrap();
    held.try_lock().unwrap();
    let job = cluster.submit("0-3", &work, &bin, &args(&out));

    // The single-process reference meanwhile, with the tasks' settings.
    let reference = work.join("reference");
    let single = Command::new(bin.join("extract"))
        .args(args(&reference))
        .args(["--threads", "1", "--quiet"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Task 2 caught mid-shard: stopped once it holds its lock, seen running by
    // `extract status`, then cancelled.
    let mut pid = None;
    cluster
        .wait_for(PATIENCE, "task 2 to start its shard", || {
            pid = running_pid(&out, "shard-00002-of-00004");
            pid.is_some()
        })
        .unwrap();
    let pid = pid.unwrap();
    let stopped = Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let (_, text) = status(&bin, &out);
    assert!(
        text.contains(&format!("shard 2 running: pid {pid} on")),
        "{text}"
    );
    let cancel = cluster.run("scancel", &[&format!("{job}_2")]).unwrap();
    assert!(
        cancel.status.success(),
        "{}",
        String::from_utf8_lossy(&cancel.stderr)
    );

    // Task 1, refused, requeued by the recipe: Slurm holds a requeued job back
    // until its old launch credential has expired (BeginTime, cred_expire + 1 s;
    // cred_expire=5 above). Release the shard and let Slurm start it then: forcing
    // StartTime=now can relaunch it within the second its credential was revoked,
    // and slurmd then kills the launch ("Job credential revoked").
    let task1 = format!("{job}_1");
    let wait = cluster.wait_for(PATIENCE, "task 1 to be requeued", || {
        cluster.state(&task1) == "PENDING BeginTime"
    });
    assert!(wait.is_ok(), "{wait:?}\n{}", task_logs(&work));
    drop(held);
    let wait = cluster.wait_for(PATIENCE, "the array to end", || cluster.queue_empty());
    assert!(wait.is_ok(), "{wait:?}\n{}", task_logs(&work));
    let single = single.wait_with_output().unwrap();
    assert!(
        single.status.success(),
        "{}",
        String::from_utf8_lossy(&single.stderr)
    );

    // Status names the cancelled shard, and only it.
    let (code, text) = status(&bin, &out);
    assert_eq!(code, 3, "{text}\n{}", task_logs(&work));
    assert!(
        text.contains(&format!("shard 2 missing: pid {pid} on"))
            && text.contains("stopped without finishing"),
        "{text}"
    );
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("missing shards of 4: "))
        .unwrap_or_else(|| panic!("no missing line: {text}"));
    let resubmit = line.split_whitespace().next().unwrap();
    assert_eq!(resubmit, "2", "{text}");

    // Resubmit exactly that.
    let again = cluster.submit(resubmit, &work, &bin, &args(&out));
    let wait = cluster.wait_for(PATIENCE, "the resubmitted task to end", || {
        cluster.queue_empty()
    });
    assert!(wait.is_ok(), "{wait:?}\n{}", task_logs(&work));
    let (code, text) = status(&bin, &out);
    assert_eq!(code, 0, "{text}\n{}", task_logs(&work));
    assert!(
        text.contains("lite0: 4 shards: done 0-3; running none; missing none"),
        "{text}"
    );

    // What the engine ran: task 1 twice (requeued), shard K from array index K,
    // the resubmission as shard 2 of 4.
    let logs = task_logs(&work);
    let task1_log = std::fs::read_to_string(work.join(format!("task-{job}_1.log"))).unwrap();
    assert!(
        task1_log.contains("attempt 1")
            && task1_log.contains("attempt 2")
            && task1_log.contains("already writing")
            && task1_log.contains(&format!("requeueing {job}_1")),
        "{logs}"
    );
    let resubmitted = std::fs::read_to_string(work.join(format!("task-{again}_2.log"))).unwrap();
    assert!(
        resubmitted
            .contains("extract: shard 2/4 from SLURM_ARRAY_TASK_ID=2, EFFPROBE_NUM_SHARDS=4"),
        "{logs}"
    );

    // The merged folder is the single run: same keys, paths, labels, splits and
    // feature bits, through effprobe's reader and through pyarrow.
    let sharded = testkit::feature_rows_by_key(&out.join("lite0"));
    let alone = testkit::feature_rows_by_key(&reference.join("lite0.parquet"));
    assert_eq!(sharded.len(), alone.len());
    assert!(
        sharded == alone,
        "the shards' features differ from one process's"
    );
    if let Some(python) = testkit::python() {
        let check = format!(
            "import pyarrow.parquet as pq\n\
             a = pq.read_table({:?}).sort_by('key')\n\
             b = pq.read_table({:?}).sort_by('key')\n\
             assert a.column('key').equals(b.column('key')), 'keys differ'\n\
             assert a.column('feature').equals(b.column('feature')), 'features differ'\n\
             print(a.num_rows)\n",
            out.join("lite0").display().to_string(),
            reference.join("lite0.parquet").display().to_string(),
        );
        let output = Command::new(python).args(["-c", &check]).output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            alone.len().to_string()
        );
    }
    let total = started.elapsed();
    let mut cluster = cluster;
    let left = cluster.stop();
    assert!(left.is_empty(), "still alive after stopping: {left:?}");
    let mut note = std::io::stderr();
    let _ = writeln!(
        note,
        "slurm test: {:.1} s in all (Slurm up in {:.1} s), {} images",
        total.as_secs_f64(),
        up.as_secs_f64(),
        alone.len()
    );
}
