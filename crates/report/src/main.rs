fn main() {
    eprintln!("report: not implemented yet (issue 7)");
    std::process::exit(2);
}
