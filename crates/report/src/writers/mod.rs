//! The table in each output format; markdown and HTML share [`cells`].

pub mod cells;
pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
