// NOTE TO THE HELPER IMPLEMENTING ISSUE 6: before anything else, read
// /tmp/common_helper_rules.md (shared working tree, commit only your own paths,
// release builds only, testkit for Python, house style). Delete this note when
// you replace this placeholder.
fn main() {
    eprintln!("head-train: not implemented yet (issue 6)");
    std::process::exit(2);
}
