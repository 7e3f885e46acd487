//! From a head's logits to class probabilities, one way for head-train and
//! tune-train: one logit and a sigmoid for two classes (the seed's Dense(1) +
//! sigmoid), K logits and a softmax for more.

/// One logit suffices for two classes.
pub fn outputs_for(classes: usize) -> usize {
    if classes == 2 {
        1
    } else {
        classes
    }
}

/// Class probabilities into `probs` (length `classes`) and the log-probability of
/// class `target`, both from the logits, stably.
#[inline]
pub fn probabilities(logits: &[f64], target: usize, probs: &mut [f64]) -> f64 {
    if logits.len() == 1 {
        let z = logits[0];
        // sigmoid(z) and softplus(±z) all start from e^-|z|: computed once, the
        // same bits as calling them.
        let e = (-z.abs()).exp();
        let p = if z >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        probs[0] = 1.0 - p;
        probs[1] = p;
        // log σ(z) = -softplus(-z); log(1 - σ(z)) = -softplus(z)
        let softplus = |z: f64| z.max(0.0) + e.ln_1p();
        if target == 1 {
            -softplus(-z)
        } else {
            -softplus(z)
        }
    } else {
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for (p, z) in probs.iter_mut().zip(logits) {
            *p = (z - max).exp();
            sum += *p;
        }
        for p in probs.iter_mut() {
            *p /= sum;
        }
        logits[target] - max - sum.ln()
    }
}
