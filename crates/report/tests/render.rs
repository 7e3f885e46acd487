//! The report rendered from the committed fixture runs (see make_fixtures.rs):
//! every number in the table checked against the fixture files themselves, and
//! every plot a valid SVG and PNG.

use std::path::Path;

use report::{PlotKind, ReportInputs};

mod common;

use common::{copy_files, evaluation, fixtures, read_json};

/// What the fixture files say about one run, read without the report crate.
struct Expected {
    run: &'static str,
    variant: &'static str,
    baseline: &'static str,
    image_size: u64,
    batch_size: Option<u64>,
    weights_bytes: Option<u64>,
    parameters: u64,
    parameters_source: &'static str,
    loss: f64,
    accuracy: f64,
    roc_auc: f64,
    f1: f64,
    head_seconds: f64,
    extraction_seconds: f64,
}

fn expected() -> Vec<Expected> {
    let fixtures = fixtures();
    let record = read_json(&fixtures.join("features/run.json"));
    let backbone_seconds = |variant: &str| {
        record["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["variant"] == variant)
            .unwrap()["backbone_seconds"]
            .as_f64()
            .unwrap()
    };
    // (run, variant, baseline, image size, batch, weights bytes, parameters, source):
    // sizes and batch from the generator's settings; bytes and parameters as recorded
    // in b0/b1's feature metadata, b2's parameters from torchvision's efficientnet_b2.
    let table = [
        (
            "b0",
            "b0",
            "b0",
            224,
            Some(16),
            Some(21_355_344),
            4_007_548,
            "feature_metadata",
        ),
        (
            "b1",
            "b1",
            "b0",
            240,
            Some(16),
            Some(31_519_111),
            6_513_184,
            "feature_metadata",
        ),
        (
            "b2",
            "b2",
            "b0",
            260,
            Some(16),
            None,
            7_700_994,
            "reference_table",
        ),
        (
            "b0-lbfgs",
            "b0",
            "b0-lbfgs",
            224,
            None,
            Some(21_355_344),
            4_007_548,
            "feature_metadata",
        ),
        (
            "b2-lbfgs",
            "b2",
            "b0-lbfgs",
            260,
            None,
            None,
            7_700_994,
            "reference_table",
        ),
    ];
    table
        .into_iter()
        .map(
            |(
                run,
                variant,
                baseline,
                image_size,
                batch_size,
                weights_bytes,
                parameters,
                source,
            )| {
                let metrics = read_json(&fixtures.join("runs").join(run).join("metrics.json"));
                let evaluation = evaluation(&metrics);
                assert_eq!(evaluation["split"], "test");
                Expected {
                    run,
                    variant,
                    baseline,
                    image_size,
                    batch_size,
                    weights_bytes,
                    parameters,
                    parameters_source: source,
                    loss: evaluation["log_loss"].as_f64().unwrap(),
                    accuracy: evaluation["accuracy"].as_f64().unwrap(),
                    roc_auc: evaluation["roc_auc"].as_f64().unwrap(),
                    f1: evaluation["f1"].as_f64().unwrap(),
                    head_seconds: metrics["timing"]["training_seconds"].as_f64().unwrap(),
                    extraction_seconds: backbone_seconds(variant),
                }
            },
        )
        .collect()
}

fn render(out: &Path) -> report::Written {
    report::render(
        &ReportInputs {
            runs: fixtures().join("runs"),
            features: Some(fixtures().join("features")),
        },
        out,
    )
    .expect("report renders")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn table_matches_the_fixtures() {
    let out = tempfile::tempdir().unwrap();
    render(out.path());
    let expected = expected();
    let by_run = |run: &str| expected.iter().find(|e| e.run == run).unwrap();

    let json = read_json(&out.path().join("report.json"));
    assert_eq!(json["evaluation_split"], "test");
    let rows = json["rows"].as_array().unwrap();
    let order: Vec<&str> = rows.iter().map(|r| r["run"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        ["b0", "b1", "b2", "b0-lbfgs", "b2-lbfgs"],
        "Adam rows, then L-BFGS, each B0 first"
    );

    for row in rows {
        let e = by_run(row["run"].as_str().unwrap());
        let base = by_run(e.baseline);
        let number = |key: &str| {
            row[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{}: {key} missing", e.run))
        };
        assert_eq!(row["variant"], e.variant);
        assert_eq!(row["baseline"], e.baseline);
        assert_eq!(row["image_size"].as_u64(), Some(e.image_size));
        assert_eq!(row["batch_size"].as_u64(), e.batch_size, "{}", e.run);
        assert_eq!(row["weights_bytes"].as_u64(), e.weights_bytes, "{}", e.run);
        assert_eq!(row["parameters"].as_u64(), Some(e.parameters));
        assert_eq!(row["parameters_source"], e.parameters_source);
        assert_eq!(number("test_loss"), e.loss);
        assert_eq!(number("test_accuracy"), e.accuracy);
        assert_eq!(number("test_roc_auc"), e.roc_auc);
        assert_eq!(number("test_f1"), e.f1);
        assert!(
            close(number("test_loss_difference"), e.loss - base.loss),
            "{}",
            e.run
        );
        assert!(
            close(
                number("test_accuracy_difference"),
                e.accuracy - base.accuracy
            ),
            "{}",
            e.run
        );
        assert_eq!(number("extraction_seconds"), e.extraction_seconds);
        assert_eq!(number("head_seconds"), e.head_seconds);
        let total = e.extraction_seconds + e.head_seconds;
        let base_total = base.extraction_seconds + base.head_seconds;
        assert!(close(number("total_seconds"), total));
        assert!(close(number("time_ratio"), total / base_total), "{}", e.run);
        assert_eq!(row["epochs"].as_u64(), Some(10));
        assert!(close(
            number("estimated_retraining_seconds"),
            e.extraction_seconds * 10.0
        ));
    }
    // The baselines' own differences are zero and their ratio one.
    assert_eq!(rows[0]["test_accuracy_difference"].as_f64(), Some(0.0));
    assert_eq!(rows[3]["time_ratio"].as_f64(), Some(1.0));

    // The CSV holds the same numbers.
    let mut csv = csv::Reader::from_path(out.path().join("report.csv")).unwrap();
    let headers = csv.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 5);
    for (record, row) in records.iter().zip(rows) {
        assert_eq!(&record[column("run")], row["run"].as_str().unwrap());
        for key in [
            "test_accuracy",
            "test_loss_difference",
            "time_ratio",
            "extraction_seconds",
        ] {
            let parsed: f64 = record[column(key)].parse().unwrap();
            assert_eq!(parsed, row[key].as_f64().unwrap(), "csv {key}");
        }
    }
    assert_eq!(&records[2][column("weights_bytes")], "", "unknown is empty");

    // The markdown: the numbers to four decimals with their intervals to three,
    // the paired test, times in human units; formatted here with std's own.
    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let b1 = by_run("b1");
    let b0 = by_run("b0");
    let b1_json = rows.iter().find(|r| r["run"] == "b1").unwrap();
    let interval = |key: &str| {
        format!(
            "[{:.3}, {:.3}]",
            b1_json[key]["low"].as_f64().unwrap(),
            b1_json[key]["high"].as_f64().unwrap()
        )
    };
    let b1_total = b1.extraction_seconds + b1.head_seconds;
    let b0_total = b0.extraction_seconds + b0.head_seconds;
    let p = b1_json["versus_previous"]["p_value"].as_f64().unwrap();
    let b1_line = format!(
        "| EfficientNet-B1 | Adam | 240×240 | 16 | 31.5 MB | 6,513,184 | {:.4} {} | {:+.4} | {:.4} {} | {:+.4} |",
        b1.loss,
        interval("test_loss_interval"),
        b1.loss - b0.loss,
        b1.accuracy,
        interval("test_accuracy_interval"),
        b1.accuracy - b0.accuracy,
    );
    assert!(
        markdown.contains(&b1_line),
        "missing\n{b1_line}\nin\n{markdown}"
    );
    let paired = if p < 0.05 {
        " p = ".to_string()
    } else {
        " ≈ (p = ".to_string()
    };
    assert!(
        markdown.contains(&format!("{b1_line}{paired}")),
        "{markdown}"
    );
    assert!(
        markdown.contains(&format!(
            "| 6.50 s | {} | {} | {:.2}× |",
            report::format::duration(b1.head_seconds),
            report::format::duration(b1_total),
            b1_total / b0_total
        )),
        "{markdown}"
    );
    assert!(
        markdown.contains("**Recommendation.** Among the"),
        "{markdown}"
    );
    assert!(markdown.contains("| EfficientNet-B2 | Adam | 260×260 | 16 | – | 7,700,994 |"));
    assert!(
        markdown.contains("| EfficientNet-B0 | L-BFGS | 224×224 | full | 21.4 MB | 4,007,548 |")
    );
}

#[test]
fn every_plot_is_a_valid_svg_and_png() {
    let out = tempfile::tempdir().unwrap();
    let written = render(out.path());
    assert_eq!(written.plots.len(), PlotKind::ALL.len());
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    for kind in PlotKind::ALL {
        let svg_path = out.path().join(format!("plots/{}.svg", kind.name()));
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        let tree = resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default())
            .unwrap_or_else(|e| panic!("{}: {e}", svg_path.display()));
        let (width, height) = (tree.size().width() as u32, tree.size().height() as u32);
        assert!(
            width >= 600 && height >= 400,
            "{}: {width}×{height}",
            kind.name()
        );
        assert!(
            svg.matches("<text").count() >= 5,
            "{} has labels",
            kind.name()
        );

        let png_path = out.path().join(format!("plots/{}.png", kind.name()));
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(&png_path).unwrap(),
        ));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(
            (frame.width, frame.height),
            (width, height),
            "{}",
            kind.name()
        );
        let channels = frame.color_type.samples();
        let inked = pixels[..frame.buffer_size()]
            .chunks(channels)
            .filter(|p| p[..3].iter().any(|&c| c < 200))
            .count();
        let share = inked as f64 / (width * height) as f64;
        assert!(share > 0.01, "{} is nearly blank ({share})", kind.name());

        assert!(html.contains(&format!("<figure id=\"plot-{}\">", kind.name())));
    }
    assert_eq!(
        html.matches("<svg").count(),
        PlotKind::ALL.len(),
        "every plot inline"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "nothing fetched"
    );
}

#[test]
fn without_features_extraction_is_unknown_and_parameters_come_from_the_table() {
    let out = tempfile::tempdir().unwrap();
    let written = report::render(
        &ReportInputs {
            runs: fixtures().join("runs"),
            features: None,
        },
        out.path(),
    )
    .unwrap();
    for row in &written.table.rows {
        assert_eq!(row.extraction_seconds, None);
        assert_eq!(row.estimated_retraining_seconds, None);
        // Unknown extraction: the total is unknown, never the head time alone.
        assert_eq!(row.total_seconds, None);
        assert_eq!(
            row.parameters_source,
            Some(report::table::ParameterSource::ReferenceTable)
        );
    }
    let b1 = &written.table.rows[1];
    let b0 = &written.table.rows[0];
    // Without the totals there is no time ratio either.
    assert_eq!((b0.time_ratio, b1.time_ratio), (None, None));
}

#[test]
fn a_folder_without_runs_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let error = report::render(
        &ReportInputs {
            runs: empty.path().to_path_buf(),
            features: None,
        },
        out.path(),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no head-train or tune-train runs"),
        "{error}"
    );
}

/// A copy of the fixture features where b1's file records its measured seconds
/// per image, as extract writes it: the table uses that × rows, whatever the last
/// extract run computed.
#[test]
fn recorded_seconds_per_image_give_the_extraction_time_of_every_row() {
    let features = tempfile::tempdir().unwrap();
    copy_files(&fixtures().join("features"), features.path());
    let b1 = features.path().join("b1.parquet");
    let dataset = contract::FeatureDataset::open(&b1).unwrap();
    let mut meta = dataset.meta().clone();
    let all = dataset.read_all().unwrap();
    meta.extra
        .insert("backbone_seconds_per_image".into(), "0.025".into());
    let mut writer = contract::FeatureWriter::create(&b1, &meta).unwrap();
    for i in 0..all.len() {
        writer
            .write_row(contract::FeatureRow {
                key: all.keys[i].clone(),
                path: all.paths[i].clone(),
                label: all.labels[i],
                label_name: all.label_names[i].clone(),
                split: all.splits[i],
                feature: all.feature(i).to_vec(),
            })
            .unwrap();
    }
    writer.finish().unwrap();

    let out = tempfile::tempdir().unwrap();
    let written = report::render(
        &ReportInputs {
            runs: fixtures().join("runs"),
            features: Some(features.path().to_path_buf()),
        },
        out.path(),
    )
    .unwrap();
    let row = |run: &str| written.table.rows.iter().find(|r| r.run == run).unwrap();
    let b1_row = row("b1");
    assert!(close(
        b1_row.extraction_seconds.unwrap(),
        0.025 * all.len() as f64
    ));
    assert_eq!(b1_row.extraction_images, Some(all.len()));
    assert!(close(
        b1_row.total_seconds.unwrap(),
        b1_row.extraction_seconds.unwrap() + b1_row.head_seconds
    ));
    // The others still come from run.json.
    let expected = expected();
    let b0 = expected.iter().find(|e| e.run == "b0").unwrap();
    assert_eq!(row("b0").extraction_seconds, Some(b0.extraction_seconds));
}

/// Every value axis of every plot: labels distinct, at most four significant
/// digits, and each drawn in the SVG.
fn check_axes(written: &report::Written) {
    for plot in &written.plots {
        assert!(!plot.axes.is_empty(), "{}: no axis recorded", plot.name);
        for (axis, labels) in &plot.axes {
            if let Some(problem) = report::plots::ticks::unreadable(labels) {
                panic!("{} {axis}: {problem}", plot.name);
            }
        }
        for (_, labels) in &plot.axes {
            for label in labels {
                // plotters writes each text element's content on its own line.
                assert!(
                    plot.svg.contains(&format!(">{label}<"))
                        || plot.svg.contains(&format!("\n{label}\n</text>")),
                    "{}: label {label} not drawn",
                    plot.name
                );
            }
        }
    }
}

#[test]
fn tick_labels_are_distinct_and_short_on_normal_and_narrow_ranges() {
    let out = tempfile::tempdir().unwrap();
    check_axes(&render(out.path()));

    // Narrow: accuracies within 0.002 of each other near 1, losses spanning
    // three decades, histories of a solver that drives the loss to 1e-4.
    let narrow = tempfile::tempdir().unwrap();
    let runs = narrow.path().join("runs");
    for (i, entry) in std::fs::read_dir(fixtures().join("runs"))
        .unwrap()
        .enumerate()
    {
        let from = entry.unwrap().path();
        let to = runs.join(from.file_name().unwrap());
        copy_files(&from, &to);
        let metrics_path = to.join("metrics.json");
        let mut metrics = read_json(&metrics_path);
        for split in metrics["splits"].as_array_mut().unwrap() {
            split["accuracy"] = serde_json::json!(0.998 + 0.0004 * i as f64);
            split["log_loss"] = serde_json::json!(0.0003 * 10f64.powi(i as i32 % 4));
        }
        std::fs::write(&metrics_path, serde_json::to_string(&metrics).unwrap()).unwrap();
        let history_path = to.join("history.csv");
        let mut history = String::from(
            "step,train_loss,train_accuracy,val_loss,val_accuracy,objective,gradient_max,seconds\n",
        );
        for step in 1..=12 {
            let loss = 0.7 * 0.45f64.powi(step);
            history.push_str(&format!(
                "{step},{loss},{},{},{},,,{}\n",
                0.999 + step as f64 * 1e-5,
                loss * 1.1,
                0.9985,
                step as f64 * 0.01
            ));
        }
        std::fs::write(&history_path, history).unwrap();
        // The predictions no longer match the scores above; drop them.
        let _ = std::fs::remove_file(to.join("predictions.csv"));
    }
    let written = report::render(
        &ReportInputs {
            runs,
            features: Some(fixtures().join("features")),
        },
        &narrow.path().join("report"),
    )
    .unwrap();
    check_axes(&written);
}
