use std::path::Path;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};

use crate::{FeatureFileError, Result};

pub(crate) const KEY: &str = "key";
pub(crate) const PATH: &str = "path";
pub(crate) const LABEL: &str = "label";
pub(crate) const LABEL_NAME: &str = "label_name";
pub(crate) const SPLIT: &str = "split";
pub(crate) const FEATURE: &str = "feature";

pub(crate) fn feature_item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float32, false))
}

pub(crate) fn feature_schema(feature_dim: usize) -> Schema {
    Schema::new(vec![
        Field::new(KEY, DataType::Utf8, false),
        Field::new(PATH, DataType::Utf8, false),
        Field::new(LABEL, DataType::Int32, false),
        Field::new(LABEL_NAME, DataType::Utf8, false),
        Field::new(SPLIT, DataType::Utf8, false),
        Field::new(
            FEATURE,
            DataType::FixedSizeList(feature_item_field(), feature_dim as i32),
            false,
        ),
    ])
}

/// Column positions in a file's schema, after checking names and types.
pub(crate) struct ColumnIndex {
    pub key: usize,
    pub path: usize,
    pub label: usize,
    pub label_name: usize,
    pub split: usize,
    pub feature: usize,
}

/// Checks that `schema` has every column with the expected type and that the
/// feature width agrees with the metadata; extra columns are allowed.
pub(crate) fn check_schema(
    path: &Path,
    schema: &Schema,
    feature_dim: usize,
) -> Result<ColumnIndex> {
    let find = |column: &'static str, accept: &dyn Fn(&DataType) -> bool, expected: &str| {
        let (index, field) =
            schema
                .column_with_name(column)
                .ok_or_else(|| FeatureFileError::MissingColumn {
                    path: path.to_path_buf(),
                    column,
                })?;
        if !accept(field.data_type()) {
            return Err(FeatureFileError::WrongType {
                path: path.to_path_buf(),
                column,
                expected: expected.to_string(),
                found: field.data_type().to_string(),
            });
        }
        Ok(index)
    };
    let utf8 = |t: &DataType| matches!(t, DataType::Utf8);
    let index = ColumnIndex {
        key: find(KEY, &utf8, "Utf8")?,
        path: find(PATH, &utf8, "Utf8")?,
        label: find(LABEL, &|t| matches!(t, DataType::Int32), "Int32")?,
        label_name: find(LABEL_NAME, &utf8, "Utf8")?,
        split: find(SPLIT, &utf8, "Utf8")?,
        feature: find(
            FEATURE,
            &|t| matches!(t, DataType::FixedSizeList(item, _) if item.data_type() == &DataType::Float32),
            "FixedSizeList<Float32, D>",
        )?,
    };
    if let DataType::FixedSizeList(_, width) = schema.field(index.feature).data_type() {
        if *width as usize != feature_dim {
            return Err(FeatureFileError::DimensionMismatch {
                path: path.to_path_buf(),
                metadata: feature_dim,
                found: *width as usize,
            });
        }
    }
    Ok(index)
}
