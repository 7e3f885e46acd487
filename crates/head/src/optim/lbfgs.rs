//! Limited-memory BFGS with a fixed diagonal preconditioner and a strong-Wolfe
//! line search (Nocedal & Wright, algorithms 7.4, 3.5 and 3.6). Stops when the
//! largest gradient component falls to `tol`, scikit-learn's criterion.

use std::collections::VecDeque;

use crate::kernels;
use crate::objective::Evaluation;

#[derive(Clone, Copy, Debug)]
pub struct LbfgsConfig {
    /// Correction pairs kept (scikit-learn and SciPy use 10).
    pub memory: usize,
    /// Converged when `max_i |∂f/∂θ_i| <= tol`.
    pub tol: f64,
    pub max_iter: usize,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig {
            memory: 10,
            tol: contract::metrics::HeadOptions::DEFAULT_TOL,
            max_iter: contract::metrics::HeadOptions::DEFAULT_MAX_ITER,
        }
    }
}

#[derive(Clone, Debug)]
pub struct LbfgsOutcome {
    pub theta: Vec<f64>,
    pub evaluation: Evaluation,
    pub gradient_max: f64,
    pub iterations: usize,
    pub evaluations: usize,
    pub converged: bool,
    pub stop_reason: String,
}

/// What the solver reports after each iteration.
pub struct Progress<'a> {
    pub iteration: usize,
    pub evaluations: usize,
    pub evaluation: Evaluation,
    pub gradient_max: f64,
    pub theta: &'a [f64],
}

struct Point {
    alpha: f64,
    f: f64,
    dphi: f64,
    x: Vec<f64>,
    g: Vec<f64>,
    evaluation: Evaluation,
}

const C1: f64 = 1e-4;
const C2: f64 = 0.9;

/// The solver's vector work (the two-loop recursion over ten pairs, the line
/// search) through the AVX2-or-portable kernels: at 120 classes × 1,280
/// features it is a fifth of a fit.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    kernels::dot_f64(a, b)
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Minimises `evaluate` (which writes the gradient into its second argument)
/// from `theta`, whose evaluation and gradient are `first` when the caller
/// already has them. `preconditioner` approximates the inverse Hessian's diagonal.
pub fn minimize(
    theta: Vec<f64>,
    first: Option<(Evaluation, Vec<f64>)>,
    preconditioner: &[f64],
    config: LbfgsConfig,
    mut evaluate: impl FnMut(&[f64], &mut [f64]) -> Evaluation,
    mut on_iteration: impl FnMut(&Progress),
) -> LbfgsOutcome {
    let n = theta.len();
    let mut x = theta;
    let (mut evaluation, mut g) = match first {
        Some(first) => first,
        None => {
            let mut g = vec![0.0; n];
            (evaluate(&x, &mut g), g)
        }
    };
    let mut evaluations = 1;
    let mut history: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(config.memory);
    let mut direction = vec![0.0; n];
    let mut alphas = vec![0.0; config.memory];
    let mut iterations = 0;
    let mut gradient_max = max_abs(&g);
    let finish = |x, evaluation, gradient_max, iterations, evaluations, converged, reason: &str| {
        LbfgsOutcome {
            theta: x,
            evaluation,
            gradient_max,
            iterations,
            evaluations,
            converged,
            stop_reason: reason.to_string(),
        }
    };
    on_iteration(&Progress {
        iteration: 0,
        evaluations,
        evaluation,
        gradient_max,
        theta: &x,
    });
    if !evaluation.objective.is_finite() {
        return finish(
            x,
            evaluation,
            gradient_max,
            0,
            evaluations,
            false,
            "objective is not finite at the start",
        );
    }
    if gradient_max <= config.tol {
        return finish(
            x,
            evaluation,
            gradient_max,
            0,
            evaluations,
            true,
            "gradient below tolerance",
        );
    }
    while iterations < config.max_iter {
        two_loop(&g, &history, preconditioner, &mut direction, &mut alphas);
        let mut slope = dot(&g, &direction);
        if slope.is_nan() || slope >= 0.0 {
            history.clear();
            two_loop(&g, &history, preconditioner, &mut direction, &mut alphas);
            slope = dot(&g, &direction);
        }
        let mut step = line_search(
            &x,
            &g,
            evaluation,
            slope,
            &direction,
            &mut evaluate,
            &mut evaluations,
        );
        if step.is_none() && !history.is_empty() {
            // A stale curvature model can point badly; retry along the preconditioned gradient.
            history.clear();
            two_loop(&g, &history, preconditioner, &mut direction, &mut alphas);
            slope = dot(&g, &direction);
            step = line_search(
                &x,
                &g,
                evaluation,
                slope,
                &direction,
                &mut evaluate,
                &mut evaluations,
            );
        }
        let Some(point) = step else {
            return finish(
                x,
                evaluation,
                gradient_max,
                iterations,
                evaluations,
                false,
                "line search found no decrease (at the limit of floating-point precision)",
            );
        };
        iterations += 1;
        let s: Vec<f64> = point.x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = point.g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-16 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() && sy > 0.0 {
            if history.len() == config.memory {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        x = point.x;
        g = point.g;
        evaluation = point.evaluation;
        gradient_max = max_abs(&g);
        on_iteration(&Progress {
            iteration: iterations,
            evaluations,
            evaluation,
            gradient_max,
            theta: &x,
        });
        if gradient_max <= config.tol {
            return finish(
                x,
                evaluation,
                gradient_max,
                iterations,
                evaluations,
                true,
                "gradient below tolerance",
            );
        }
    }
    finish(
        x,
        evaluation,
        gradient_max,
        iterations,
        evaluations,
        false,
        "reached max_iter",
    )
}

/// `direction = -H g` with `H` the L-BFGS inverse-Hessian model whose initial
/// matrix is the preconditioner scaled by the newest pair's `sᵀy / yᵀDy`.
fn two_loop(
    g: &[f64],
    history: &VecDeque<(Vec<f64>, Vec<f64>, f64)>,
    diagonal: &[f64],
    direction: &mut [f64],
    alphas: &mut [f64],
) {
    direction.copy_from_slice(g);
    for (i, (s, y, rho)) in history.iter().enumerate().rev() {
        let alpha = rho * dot(s, direction);
        alphas[i] = alpha;
        kernels::axpy_f64(direction, -alpha, y);
    }
    let gamma = match history.back() {
        Some((s, y, _)) => {
            let y_d_y: f64 = y.iter().zip(diagonal).map(|(v, d)| v * v * d).sum();
            dot(s, y) / y_d_y
        }
        None => 1.0,
    };
    for (d, h) in direction.iter_mut().zip(diagonal) {
        *d *= gamma * h;
    }
    for (i, (s, y, rho)) in history.iter().enumerate() {
        let beta = rho * dot(y, direction);
        kernels::axpy_f64(direction, alphas[i] - beta, s);
    }
    for d in direction.iter_mut() {
        *d = -*d;
    }
}

/// A step length satisfying the strong Wolfe conditions (or the approximate
/// Wolfe conditions of Hager & Zhang once objective differences drown in
/// rounding), or `None` when no decrease could be found.
fn line_search(
    x0: &[f64],
    g0: &[f64],
    e0: Evaluation,
    slope0: f64,
    direction: &[f64],
    evaluate: &mut impl FnMut(&[f64], &mut [f64]) -> Evaluation,
    evaluations: &mut usize,
) -> Option<Point> {
    let f0 = e0.objective;
    let rounding = 1e-10 * f0.abs().max(1e-300);
    let mut try_step = |alpha: f64| -> Point {
        let x: Vec<f64> = x0
            .iter()
            .zip(direction)
            .map(|(a, d)| a + alpha * d)
            .collect();
        let mut g = vec![0.0; x.len()];
        let evaluation = evaluate(&x, &mut g);
        *evaluations += 1;
        let dphi = dot(&g, direction);
        Point {
            alpha,
            f: evaluation.objective,
            dphi,
            x,
            g,
            evaluation,
        }
    };
    let sufficient = |p: &Point| p.f.is_finite() && p.f <= f0 + C1 * p.alpha * slope0;
    let approximately_wolfe = |p: &Point| {
        p.f.is_finite()
            && p.f <= f0 + rounding
            && (2.0 * C1 - 1.0) * slope0 >= p.dphi
            && p.dphi >= C2 * slope0
    };
    let curvature = |p: &Point| p.dphi.abs() <= -C2 * slope0;

    let start = Point {
        alpha: 0.0,
        f: f0,
        dphi: slope0,
        x: x0.to_vec(),
        g: g0.to_vec(),
        evaluation: e0,
    };
    let mut previous = start;
    let mut alpha = 1.0;
    for attempt in 0..40 {
        let point = try_step(alpha);
        if approximately_wolfe(&point) {
            return Some(point);
        }
        if !sufficient(&point) || (attempt > 0 && point.f >= previous.f) {
            return zoom(
                previous,
                point,
                &mut try_step,
                &sufficient,
                &approximately_wolfe,
                &curvature,
            );
        }
        if curvature(&point) {
            return Some(point);
        }
        if point.dphi >= 0.0 {
            return zoom(
                point,
                previous,
                &mut try_step,
                &sufficient,
                &approximately_wolfe,
                &curvature,
            );
        }
        previous = point;
        alpha *= 4.0;
    }
    (previous.alpha > 0.0).then_some(previous)
}

#[allow(clippy::too_many_arguments)]
fn zoom(
    mut low: Point,
    mut high: Point,
    try_step: &mut impl FnMut(f64) -> Point,
    sufficient: &impl Fn(&Point) -> bool,
    approximately_wolfe: &impl Fn(&Point) -> bool,
    curvature: &impl Fn(&Point) -> bool,
) -> Option<Point> {
    for _ in 0..50 {
        let (a, b) = (low.alpha.min(high.alpha), low.alpha.max(high.alpha));
        if b - a <= 1e-16 * b.max(1e-300) {
            break;
        }
        let alpha = interpolate(&low, &high).clamp(a + 0.1 * (b - a), b - 0.1 * (b - a));
        let point = try_step(alpha);
        if approximately_wolfe(&point) {
            return Some(point);
        }
        if !sufficient(&point) || point.f >= low.f {
            high = point;
        } else {
            if curvature(&point) {
                return Some(point);
            }
            if point.dphi * (high.alpha - low.alpha) >= 0.0 {
                high = low;
            }
            low = point;
        }
    }
    (low.alpha > 0.0).then_some(low)
}

/// Minimiser of the cubic through both ends' values and slopes (bisection
/// when it is not defined).
fn interpolate(low: &Point, high: &Point) -> f64 {
    let midpoint = 0.5 * (low.alpha + high.alpha);
    if !high.f.is_finite() {
        return midpoint;
    }
    let d1 = low.dphi + high.dphi - 3.0 * (low.f - high.f) / (low.alpha - high.alpha);
    let discriminant = d1 * d1 - low.dphi * high.dphi;
    if discriminant.is_nan() || discriminant < 0.0 {
        return midpoint;
    }
    let d2 = (high.alpha - low.alpha).signum() * discriminant.sqrt();
    let alpha = high.alpha
        - (high.alpha - low.alpha) * (high.dphi + d2 - d1) / (high.dphi - low.dphi + 2.0 * d2);
    if alpha.is_finite() {
        alpha
    } else {
        midpoint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_an_ill_conditioned_quadratic() {
        let scales = [1.0, 10.0, 100.0, 1000.0];
        let outcome = minimize(
            vec![1.0; 4],
            None,
            &[1.0; 4],
            LbfgsConfig {
                tol: 1e-10,
                ..Default::default()
            },
            |x, g| {
                let mut f = 0.0;
                for i in 0..4 {
                    let r = x[i] - (i as f64 + 1.0);
                    f += 0.5 * scales[i] * r * r;
                    g[i] = scales[i] * r;
                }
                Evaluation {
                    objective: f,
                    ..Default::default()
                }
            },
            |_| {},
        );
        assert!(outcome.converged, "{}", outcome.stop_reason);
        for (i, v) in outcome.theta.iter().enumerate() {
            assert!((v - (i as f64 + 1.0)).abs() < 1e-9, "{:?}", outcome.theta);
        }
    }
}
