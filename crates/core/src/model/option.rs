//! Job options: the inputs a job takes at run time.

use super::flex;
use super::Extra;
use serde::{Deserialize, Serialize};

/// A job option, with Rundeck's field names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOption {
    /// Name used in `${option.NAME}` and `RD_OPTION_NAME`.
    pub name: String,
    /// Label shown instead of the name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub label: Option<String>,
    /// Markdown description.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub description: Option<String>,
    /// Default value (`value` in Rundeck files).
    #[serde(
        rename = "value",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub default: Option<String>,
    /// Allowed or suggested values.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "flex::string_list"
    )]
    pub values: Vec<String>,
    /// Delimiter for `values` given as one string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_list_delimiter: Option<String>,
    /// A value must be given.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub required: bool,
    /// The value must be one of `values`.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub enforced: bool,
    /// The value must fully match this regular expression.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub regex: Option<String>,
    /// Remote URL listing values (kept, fetched by front-ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_url: Option<String>,
    /// Several values may be chosen, joined with `delimiter`.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub multivalued: bool,
    /// Joins multiple values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// All values selected by default.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub multivalue_all_selected: bool,
    /// Secret input: masked in logs and never shown back.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub secure: bool,
    /// A secure value is available to scripts (otherwise only to authentication).
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub value_exposed: bool,
    /// Key-storage path of a secure option's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_path: Option<String>,
    /// Shown as a date picker.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub is_date: bool,
    /// Date format for `isDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
    /// Hidden from the run form.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub hidden: bool,
    /// `text` (default) or `file`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub option_type: Option<String>,
    /// Fields this version does not know, kept for export.
    #[serde(flatten)]
    pub extra: Extra,
}

impl JobOption {
    /// A plain optional text option.
    pub fn new(name: impl Into<String>) -> Self {
        JobOption {
            name: name.into(),
            ..JobOption::default()
        }
    }
}
