//! One vocabulary: every tool's `--help` against the README's table of shared
//! flags. Each flag in the table is spelled so in each tool listed for it, and no
//! flag is shared by two tools without a row saying what it means.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use effprobe_tests::{release_binaries, workspace_file};

const TOOLS: [&str; 9] = [
    "extract",
    "extract scan",
    "extract predict",
    "extract export",
    "extract bench",
    "extract doctor",
    "head-train",
    "tune-train",
    "report",
];

/// The long flags a help text lists as options (`  -q, --quiet  ...`).
fn listed_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|line| {
            let option = line.trim_start();
            let option = option
                .strip_prefix('-')
                .filter(|rest| rest.len() > 2 && rest.as_bytes()[1] == b',')
                .map_or(option, |rest| rest[2..].trim_start());
            let flag: String = option
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (!flag.is_empty() && flag != "help" && flag != "version").then(|| format!("--{flag}"))
        })
        .collect()
}

fn help_of(tool: &str) -> String {
    let output = if tool == "compare" {
        Command::new(workspace_file("scripts/compare"))
            .arg("--help")
            .output()
            .unwrap()
    } else {
        let bin = release_binaries().expect("release binaries");
        let mut words = tool.split(' ');
        Command::new(bin.join(words.next().unwrap()))
            .args(words)
            .arg("--help")
            .output()
            .unwrap()
    };
    assert!(output.status.success(), "{tool} --help failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// flag → tools, from the README's "## Flags" table.
fn readme_table() -> BTreeMap<String, BTreeSet<String>> {
    let readme = std::fs::read_to_string(workspace_file("README.md")).unwrap();
    let section = readme
        .split("\n## Flags\n")
        .nth(1)
        .expect("README has a ## Flags section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|line| line.starts_with("| `--"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let flag = cells[0].trim_matches('`').to_string();
            let tools = cells[2].split(',').map(|t| t.trim().to_string()).collect();
            (flag, tools)
        })
        .collect()
}

#[test]
fn shared_flags_are_spelled_the_same_in_every_tool() {
    if release_binaries().is_none() {
        return;
    }
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for tool in TOOLS.iter().copied().chain(["compare"]) {
        for flag in listed_flags(&help_of(tool)) {
            users.entry(flag).or_default().insert(tool.to_string());
        }
    }
    let table = readme_table();
    assert!(
        table.len() >= 15,
        "the README's Flags table looks empty: {table:?}"
    );
    for (flag, tools) in &table {
        let found = users.get(flag).cloned().unwrap_or_default();
        assert_eq!(
            &found, tools,
            "{flag}: the README lists {tools:?}, the tools' --help show it in {found:?}"
        );
    }
    for (flag, tools) in &users {
        if tools.len() > 1 {
            assert!(
                table.contains_key(flag),
                "{flag} is shared by {tools:?} but has no row in the README's Flags table"
            );
        }
    }
}

#[test]
fn bad_values_of_typed_flags_exit_2() {
    let Some(bin) = release_binaries() else {
        return;
    };
    for (flag, value) in [
        ("--device", "gpu"),
        ("--precision", "fp64"),
        ("--padding", "sideways"),
        ("--layout", "diagonal"),
        ("--label-from-name", "^[a-z]+"),
    ] {
        let output = Command::new(bin.join("extract"))
            .args(["--variant", "b0", "--weights", "random", "--data", "."])
            .args([flag, value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(value), "{stderr}");
    }
    let cases: [(&str, &[&str]); 5] = [
        (
            "extract",
            &["--variant", "b0", "--data", ".", "--tune-top", "0"],
        ),
        (
            "tune-train",
            &["x.parquet", "--out", "y", "--device", "gpu"],
        ),
        (
            "tune-train",
            &["x.parquet", "--out", "y", "--schedule", "linear"],
        ),
        // One threshold parser for both trainers: outside [0, 1] is a bad value.
        (
            "head-train",
            &["x.parquet", "--out", "y", "--threshold", "1.5"],
        ),
        (
            "tune-train",
            &["x.parquet", "--out", "y", "--threshold", "1.5"],
        ),
    ];
    for (tool, args) in cases {
        let output = Command::new(bin.join(tool)).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{tool} {args:?}: {stderr}");
        assert!(stderr.contains(args[args.len() - 1]), "{stderr}");
    }
}
