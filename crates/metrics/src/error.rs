use thiserror::Error;

#[derive(Debug, Error)]
pub enum MetricsError {
    /// `--threshold val-f1` picks a threshold on p(class 1): two classes only.
    #[error(
        "--threshold val-f1 applies to two classes only (these features have {classes}); \
         more classes are predicted by the most probable class"
    )]
    ThresholdNeedsTwoClasses { classes: usize },
    #[error("--threshold must lie in [0, 1], got {value}")]
    ThresholdOutOfRange { value: f64 },
}
