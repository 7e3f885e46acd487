//! What to choose: the models worth their cost, and the cheapest one the test
//! set cannot tell from the best, in one paragraph with the numbers behind it.
//!
//! * The Pareto front of (test loss, extraction cost) among the runs of the head
//!   kind (Adam, L-BFGS, top-N fine-tune) that reaches the lowest loss, of those
//!   with two runs or more: the runs no cheaper run beats on loss.
//! * Its knee: on the front, with log10 cost and loss each scaled to [0, 1], the
//!   point farthest below the straight line from the cheapest point to the
//!   lowest-loss one (where the loss bought per doubling of cost falls off).
//!   Needs three points.
//! * The cheapest run whose accuracy McNemar's exact test cannot tell from the
//!   lowest-loss run's (p ≥ 0.05 on the same test images).

use serde::Serialize;

use crate::format;
use crate::stats::{self, Paired};
use crate::table::{fine_tuned_blocks, head_label, Row};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// The head kind considered (`adam`, `lbfgs`, `topN`: see [`crate::table::head_kind`]).
    pub head: String,
    /// Runs on the front, cheapest first.
    pub front: Vec<String>,
    pub knee: Option<String>,
    /// The lowest test loss.
    pub best: String,
    /// The cheapest run indistinguishable from `best`, with the test against it.
    pub cheapest_equivalent: Option<(String, Option<Paired>)>,
    pub text: String,
}

fn cost(row: &Row) -> Option<f64> {
    row.extraction_seconds.filter(|s| *s > 0.0)
}

/// Runs (indices) no cheaper run beats on loss, cheapest first.
fn pareto_front(rows: &[&Row]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len())
        .filter(|&i| cost(rows[i]).is_some())
        .collect();
    order.sort_by(|&a, &b| {
        cost(rows[a])
            .unwrap_or(0.0)
            .total_cmp(&cost(rows[b]).unwrap_or(0.0))
            .then(rows[a].test_loss.total_cmp(&rows[b].test_loss))
    });
    let mut front = Vec::new();
    let mut best = f64::INFINITY;
    for i in order {
        if rows[i].test_loss < best {
            best = rows[i].test_loss;
            front.push(i);
        }
    }
    front
}

/// The knee of a front (indices into `rows`, cheapest first), by the rule above.
fn knee(rows: &[&Row], front: &[usize]) -> Option<usize> {
    if front.len() < 3 {
        return None;
    }
    let x = |i: usize| cost(rows[i]).unwrap_or(1.0).log10();
    let y = |i: usize| rows[i].test_loss;
    let (first, last) = (front[0], front[front.len() - 1]);
    let (x_span, y_span) = (x(last) - x(first), y(first) - y(last));
    if x_span <= 0.0 || y_span <= 0.0 {
        return None;
    }
    front[1..front.len() - 1]
        .iter()
        .map(|&i| {
            let u = (x(i) - x(first)) / x_span;
            let v = (y(first) - y(i)) / y_span;
            // Above the diagonal u = v in (cost, loss gained): gained more than paid.
            (i, v - u)
        })
        .filter(|(_, gain)| *gain > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

fn describe(row: &Row) -> String {
    format!(
        "{} ({}, loss {})",
        row.model,
        cost(row).map_or_else(|| format::MISSING.to_string(), format::duration),
        format::decimal4(row.test_loss)
    )
}

pub fn recommend(all: &[Row], split: &str) -> Option<Recommendation> {
    // A kind with a single run has nothing to choose between: the lowest loss
    // among the kinds with two or more.
    let runs_of = |head: &str| all.iter().filter(|r| r.head == head).count();
    let best_overall = all
        .iter()
        .filter(|r| runs_of(&r.head) >= 2)
        .min_by(|a, b| a.test_loss.total_cmp(&b.test_loss))?;
    let rows: Vec<&Row> = all.iter().filter(|r| r.head == best_overall.head).collect();
    if rows.len() < 2 {
        return None;
    }
    let front = pareto_front(&rows);
    if front.is_empty() {
        return None;
    }
    let knee = knee(&rows, &front);
    let best = rows
        .iter()
        .min_by(|a, b| a.test_loss.total_cmp(&b.test_loss))
        .copied()?;
    let mut by_cost: Vec<&Row> = rows.iter().copied().filter(|r| cost(r).is_some()).collect();
    by_cost.sort_by(|a, b| cost(a).unwrap_or(0.0).total_cmp(&cost(b).unwrap_or(0.0)));
    let cheapest_equivalent = if best.hits.is_empty() {
        None
    } else {
        by_cost.iter().find_map(|row| {
            if row.run == best.run {
                return Some((row.run.clone(), None));
            }
            let test = stats::paired(&row.hits, &best.hits, &best.run)?;
            (!test.distinguishable).then(|| (row.run.clone(), Some(test)))
        })
    };

    let kind = match fine_tuned_blocks(&best.head) {
        Some(_) => format!("{} runs", head_label(&best.head)),
        None => format!("{} heads", head_label(&best.head)),
    };
    let worth = if front.len() == 1 {
        format!(
            "the model worth its extraction cost (the Pareto front of {split} loss against it) is"
        )
    } else {
        format!("the models worth their extraction cost (the Pareto front of {split} loss against it) are")
    };
    let mut text = format!(
        "Among the {kind}, {worth} {}.",
        front
            .iter()
            .map(|&i| describe(rows[i]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match knee {
        Some(i) => text.push_str(&format!(
            " The front's knee, where the loss bought per doubling of cost falls off, is {}.",
            rows[i].model
        )),
        None if front.len() >= 3 => {
            text.push_str(" The front has no knee: each step costs about what it gains.")
        }
        None => {}
    }
    text.push_str(&format!(" The lowest loss is {}'s.", best.model));
    match &cheapest_equivalent {
        Some((run, Some(test))) => {
            let row = rows.iter().find(|r| &r.run == run)?;
            let gain = best.test_accuracy - row.test_accuracy;
            let saved = format::duration(cost(best).unwrap_or(0.0) - cost(row).unwrap_or(0.0));
            text.push_str(&format!(
                " {} is the cheapest whose accuracy the {split} set cannot tell from {}'s ({} against {}, McNemar p = {:.2} on {} images)",
                row.model,
                best.model,
                format::decimal4(row.test_accuracy),
                format::decimal4(best.test_accuracy),
                test.p_value,
                test.images,
            ));
            text.push_str(&if gain > 0.0 {
                format!(": choose it unless {gain:+.4} in accuracy matters more than {saved} of extraction.")
            } else {
                format!(
                    ": choose it; it is as accurate and {saved} of extraction cheaper, at a {split} loss of {} against {}.",
                    format::decimal4(row.test_loss),
                    format::decimal4(best.test_loss)
                )
            });
        }
        Some((_, None)) if by_cost.first().is_some_and(|r| r.run == best.run) => {
            text.push_str(&format!(" It is also the cheapest: choose {}.", best.model))
        }
        Some((_, None)) => text.push_str(&format!(
            " Every cheaper model's accuracy is distinguishable from it (McNemar p < {}): choose {}.",
            stats::ALPHA,
            best.model
        )),
        None => text.push_str(" Without per-image predictions the models cannot be tested against each other."),
    }
    Some(Recommendation {
        head: best.head.clone(),
        front: front.iter().map(|&i| rows[i].run.clone()).collect(),
        knee: knee.map(|i| rows[i].run.clone()),
        best: best.run.clone(),
        cheapest_equivalent,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An L-BFGS run over 20 test images, right on the first `right` of them.
    fn run(name: &str, extraction_seconds: f64, test_loss: f64, right: usize) -> Row {
        Row {
            run: name.into(),
            model: format!("Model-{name}"),
            head: "lbfgs".into(),
            extraction_seconds: Some(extraction_seconds),
            test_loss,
            test_accuracy: right as f64 / 20.0,
            hits: (0..20).map(|i| (format!("image{i}"), i < right)).collect(),
            ..Row::default()
        }
    }

    #[test]
    fn the_cheapest_run_with_the_lowest_loss_is_chosen_as_such() {
        let rows = [run("a", 1.0, 0.1, 19), run("b", 5.0, 0.3, 12)];
        let recommendation = recommend(&rows, "test").unwrap();
        assert_eq!(recommendation.best, "a");
        assert_eq!(recommendation.front, ["a"]);
        assert!(
            recommendation.text.starts_with(
                "Among the L-BFGS heads, the model worth its extraction cost (the Pareto front of test loss against it) is Model-a"
            ),
            "{}",
            recommendation.text
        );
        assert!(
            recommendation.text.ends_with(
                " The lowest loss is Model-a's. It is also the cheapest: choose Model-a."
            ),
            "{}",
            recommendation.text
        );
    }

    #[test]
    fn a_cheaper_run_the_test_set_tells_apart_is_named_as_beaten() {
        // b: 20 of 20 right, a: 8 of 20; McNemar on 12 discordant images, p < 0.05.
        let rows = [run("a", 1.0, 0.6, 8), run("b", 5.0, 0.1, 20)];
        let recommendation = recommend(&rows, "test").unwrap();
        assert_eq!(recommendation.front, ["a", "b"]);
        assert!(
            recommendation.text.ends_with(
                "Every cheaper model's accuracy is distinguishable from it (McNemar p < 0.05): choose Model-b."
            ),
            "{}",
            recommendation.text
        );
    }
}
