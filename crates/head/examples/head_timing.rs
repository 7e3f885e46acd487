//! Times the inner pieces of head-train on one feature file (min and median of
//! repeats, which resist a shared machine's noise better than a single run).
//! usage: head_timing FEATURES adam|train|lbfgs [EPOCHS|L2]

use std::path::PathBuf;
use std::time::Instant;

use feature_matrix::load::load_features;
use feature_matrix::roles::RolePlan;
use head::model::predict;
use head::objective::FullBatch;
use head::optim::adam::{glorot_uniform, Adam, AdamConfig};
use head::optim::lbfgs::{minimize, LbfgsConfig};

fn summary(mut seconds: Vec<f64>) -> String {
    seconds.sort_by(f64::total_cmp);
    format!(
        "min {:.2} ms, median {:.2} ms",
        seconds[0] * 1e3,
        seconds[seconds.len() / 2] * 1e3
    )
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: head_timing FEATURES adam|train|lbfgs [EPOCHS|L2]";
    let path = PathBuf::from(args.next().expect(usage));
    let mode = args.next().expect(usage);
    let parameter = args.next();
    let features = load_features::<f32>(&[path])?;
    if mode == "train" {
        let epochs: usize = parameter.map_or(Ok(20), |e| e.parse())?;
        let options = head::TrainOptions {
            epochs,
            ..Default::default()
        };
        // Called from the main thread, as head-train does.
        let run = head::train_loaded(features, &options, Instant::now())?;
        let c = &run.candidates[0].record;
        println!(
            "head-train's Adam: {:.2} ms/epoch with its selection pass",
            c.seconds / c.epochs as f64 * 1e3
        );
        return Ok(());
    }
    let plan = RolePlan::new(
        &features.splits,
        &features.labels,
        &features.key_hashes,
        &features.meta.classes,
        None,
    )?;
    let classes = features.classes();
    let weights = vec![1.0; classes];
    let rows = &plan.fit.rows;
    // On a worker of the pool, as in head-train, not injected from outside it.
    let pool = rayon::ThreadPoolBuilder::new().build()?;
    pool.install(|| -> anyhow::Result<()> {
        if mode == "adam" {
            let epochs: usize = parameter.map_or(Ok(20), |e| e.parse())?;
            let mut adam = Adam::new(
                AdamConfig::default(),
                0,
                glorot_uniform(classes, features.matrix.dim(), 0),
                &features.matrix,
                rows,
                &features.labels,
                &weights,
            );
            let mut epoch_seconds = Vec::new();
            let mut selection_seconds = Vec::new();
            for _ in 0..epochs {
                let start = Instant::now();
                adam.run_epoch();
                epoch_seconds.push(start.elapsed().as_secs_f64());
                let start = Instant::now();
                predict(
                    &adam.head,
                    &features.matrix,
                    &plan.selection.rows,
                    &features.labels,
                );
                selection_seconds.push(start.elapsed().as_secs_f64());
            }
            println!(
                "adam epoch: {}; selection pass: {}",
                summary(epoch_seconds),
                summary(selection_seconds)
            );
            return Ok(());
        }
        let l2: f64 = parameter.map_or(Ok(1.0 / rows.len() as f64), |e| e.parse())?;
        let selection = &plan.selection.rows;
        let mut problem = FullBatch::new(
            &features.matrix,
            rows,
            selection,
            &features.labels,
            &weights,
            l2,
        );
        let theta = vec![1e-3; problem.num_params()];
        let mut grad = vec![0.0; problem.num_params()];
        let mut evaluate_seconds = Vec::new();
        for _ in 0..10 {
            let start = Instant::now();
            std::hint::black_box(problem.evaluate(&theta, &mut grad));
            evaluate_seconds.push(start.elapsed().as_secs_f64());
        }
        println!("full-batch evaluation: {}", summary(evaluate_seconds));
        let start = Instant::now();
        let theta = vec![0.0; problem.num_params()];
        let mut gradient = vec![0.0; theta.len()];
        let (first, preconditioner) = problem.evaluate_with_preconditioner(&theta, &mut gradient);
        let outcome = minimize(
            theta,
            Some((first, gradient)),
            &preconditioner,
            LbfgsConfig::default(),
            |t, g| problem.evaluate(t, g),
            |p| {
                println!(
                    "  iteration {:3} evaluations {:3} objective {:.10} |g|max {:.2e} at {:.1} ms",
                    p.iteration,
                    p.evaluations,
                    p.evaluation.objective,
                    p.gradient_max,
                    start.elapsed().as_secs_f64() * 1e3
                )
            },
        );
        println!(
            "lbfgs: {} iterations, {} evaluations, {:.1} ms",
            outcome.iterations,
            outcome.evaluations,
            start.elapsed().as_secs_f64() * 1e3
        );
        Ok(())
    })
}
