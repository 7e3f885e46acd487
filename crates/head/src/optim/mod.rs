//! The two ways to fit a head: mini-batch Adam (the seed's recipe) and a
//! full-batch L-BFGS that converges to the exact optimum.

pub mod adam;
pub mod lbfgs;
