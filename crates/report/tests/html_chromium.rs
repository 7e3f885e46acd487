//! `report.html` opened in headless Chromium (Debian's `chromium`, installed by
//! `.ci/run`): the page loads with no console message, the DOM holds the table
//! and every plot, and the screenshot is a real rendering. The report and its
//! screenshot stay in the test's output folder, `target/tmp/report-html/`, to be
//! looked at.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use report::PlotKind;

/// `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn run_chromium(chromium: &Path, profile: &Path, args: &[String], page: &str) -> Output {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(page)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()))
}

/// Console messages (chromium logs them as `CONSOLE(line)`) and uncaught errors.
fn console_problems(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.contains("CONSOLE") || line.contains("Uncaught"))
        .collect()
}

#[test]
fn report_html_renders_in_headless_chromium() {
    let Some(chromium) = chromium().or_else(|| {
        testkit::skip_or_fail("chromium not found (apt-get install chromium, or set CHROMIUM)")
    }) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    let _ = std::fs::remove_dir_all(&kept);
    let out = kept.join("report");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let report = Command::new(env!("CARGO_BIN_EXE_report"))
        .arg(fixtures.join("runs"))
        .arg("--features")
        .arg(fixtures.join("features"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&report.stderr)
    );
    let printed = String::from_utf8_lossy(&report.stdout);
    assert!(printed.contains("| EfficientNet-B0 | Adam |") && printed.contains("report.html"));
    let page = format!("file://{}", out.join("report.html").display());

    let dom = run_chromium(
        &chromium,
        &work.path().join("profile-dom"),
        &["--dump-dom".to_string()],
        &page,
    );
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert!(
        console_problems(&stderr).is_empty(),
        "console: {:?}",
        console_problems(&stderr)
    );
    assert!(
        dom_text.contains("<table id=\"comparison\">"),
        "no table in\n{dom_text}"
    );
    let body_rows = dom_text
        .split("<tbody>")
        .nth(1)
        .and_then(|rest| rest.split("</tbody>").next())
        .map(|body| body.matches("<tr>").count());
    assert_eq!(body_rows, Some(5), "one table row per run");
    assert!(dom_text.contains("EfficientNet-B2"));
    // The per-class view: one collapsible table per run, the first open.
    let per_class = dom_text
        .split("<section class=\"classes\" id=\"per-class\">")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .expect("a per-class section");
    assert_eq!(per_class.matches("<details").count(), 5, "one per run");
    assert_eq!(per_class.matches("<details open=\"\">").count(), 1);
    assert!(per_class.contains("<td>ants</td>") && per_class.contains("<td>bees</td>"));
    for kind in PlotKind::ALL {
        let figure = format!("<figure id=\"plot-{}\">", kind.name());
        let after = dom_text
            .split(&figure)
            .nth(1)
            .unwrap_or_else(|| panic!("{figure} missing"));
        let inside = after.split("</figure>").next().unwrap();
        assert!(inside.contains("<svg"), "{} has no inline SVG", kind.name());
        assert!(
            inside.contains("<rect") && inside.contains("<text"),
            "{} drawn",
            kind.name()
        );
    }

    let screenshot = kept.join("screenshot.png");
    let shot = run_chromium(
        &chromium,
        &work.path().join("profile-shot"),
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1440,5000".to_string(),
        ],
        &page,
    );
    let stderr = String::from_utf8_lossy(&shot.stderr);
    assert!(shot.status.success(), "{stderr}");
    assert!(
        console_problems(&stderr).is_empty(),
        "console: {:?}",
        console_problems(&stderr)
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&screenshot).expect("screenshot written"),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1440, 5000));
    let channels = frame.color_type.samples();
    let pixels = &pixels[..frame.buffer_size()];
    // Text and bars: dark pixels and saturated (plot) colours, not a blank page.
    let dark = pixels
        .chunks(channels)
        .filter(|p| p[..3].iter().all(|&c| c < 80))
        .count();
    let coloured = pixels
        .chunks(channels)
        .filter(|p| {
            let (max, min) = (p[..3].iter().max().unwrap(), p[..3].iter().min().unwrap());
            max - min > 100
        })
        .count();
    let total = (frame.width * frame.height) as usize;
    assert!(dark > total / 200, "too little text: {dark} of {total}");
    assert!(
        coloured > total / 50,
        "too little plot colour: {coloured} of {total}"
    );
    eprintln!("report and screenshot: {}", kept.display());
}
