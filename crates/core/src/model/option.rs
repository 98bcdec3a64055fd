//! Job options: the inputs a job takes at run time.

use super::flex::{self, Flexed, Text, Written};
use super::Extra;
use serde::{Deserialize, Serialize};

/// A job option, with Rundeck's field names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawJobOption", into = "RawJobOption")]
pub struct JobOption {
    /// Name used in `${option.NAME}` and `RD_OPTION_NAME`.
    pub name: String,
    /// Label shown instead of the name.
    pub label: Option<String>,
    /// Markdown description.
    pub description: Option<String>,
    /// Default value (`value` in Rundeck files).
    pub default: Option<String>,
    /// Allowed or suggested values.
    pub values: Vec<String>,
    /// Delimiter for `values` given as one string.
    pub values_list_delimiter: Option<String>,
    /// A value must be given.
    pub required: bool,
    /// The value must be one of `values`.
    pub enforced: bool,
    /// The value must fully match this regular expression.
    pub regex: Option<String>,
    /// Remote URL listing values (kept, fetched by front-ends).
    pub values_url: Option<String>,
    /// Several values may be chosen, joined with `delimiter`.
    pub multivalued: bool,
    /// Joins multiple values.
    pub delimiter: Option<String>,
    /// All values selected by default.
    pub multivalue_all_selected: bool,
    /// Secret input: masked in logs and never shown back.
    pub secure: bool,
    /// A secure value is available to scripts (otherwise only to authentication).
    pub value_exposed: bool,
    /// Key-storage path of a secure option's default.
    pub storage_path: Option<String>,
    /// Shown as a date picker.
    pub is_date: bool,
    /// Date format for `isDate`.
    pub date_format: Option<String>,
    /// Hidden from the run form.
    pub hidden: bool,
    /// `text` (default) or `file`.
    pub option_type: Option<String>,
    /// How its flags were written, to write them back alike.
    pub written: Written,
    /// Fields this version does not know, kept for export.
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

/// [`JobOption`] as documents write it, its flags in their written form.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawJobOption {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<Text>,
    #[serde(rename = "value", default, skip_serializing_if = "Option::is_none")]
    default: Option<Text>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "flex::text_list"
    )]
    values: Vec<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values_list_delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    required: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enforced: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regex: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multivalued: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multivalue_all_selected: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secure: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_exposed: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_date: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    date_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hidden: Option<Flexed<bool>>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    option_type: Option<String>,
    #[serde(flatten)]
    extra: Extra,
}

impl From<RawJobOption> for JobOption {
    fn from(r: RawJobOption) -> Self {
        let mut w = Written::default();
        JobOption {
            name: r.name,
            label: w.read_text("label", r.label),
            description: w.read_text("description", r.description),
            default: w.read_text("value", r.default),
            values: w.read_texts("values", r.values),
            values_list_delimiter: r.values_list_delimiter,
            required: w.read("required", r.required).unwrap_or(false),
            enforced: w.read("enforced", r.enforced).unwrap_or(false),
            regex: w.read_text("regex", r.regex),
            values_url: r.values_url,
            multivalued: w.read("multivalued", r.multivalued).unwrap_or(false),
            delimiter: r.delimiter,
            multivalue_all_selected: w
                .read("multivalueAllSelected", r.multivalue_all_selected)
                .unwrap_or(false),
            secure: w.read("secure", r.secure).unwrap_or(false),
            value_exposed: w.read("valueExposed", r.value_exposed).unwrap_or(false),
            storage_path: r.storage_path,
            is_date: w.read("isDate", r.is_date).unwrap_or(false),
            date_format: r.date_format,
            hidden: w.read("hidden", r.hidden).unwrap_or(false),
            option_type: r.option_type,
            written: w,
            extra: r.extra,
        }
    }
}

impl From<JobOption> for RawJobOption {
    fn from(v: JobOption) -> Self {
        let w = &v.written;
        RawJobOption {
            name: v.name,
            label: w.write_text("label", v.label),
            description: w.write_text("description", v.description),
            default: w.write_text("value", v.default),
            values: w.write_texts("values", v.values),
            values_list_delimiter: v.values_list_delimiter,
            required: w.write("required", v.required, v.required),
            enforced: w.write("enforced", v.enforced, v.enforced),
            regex: w.write_text("regex", v.regex),
            values_url: v.values_url,
            multivalued: w.write("multivalued", v.multivalued, v.multivalued),
            delimiter: v.delimiter,
            multivalue_all_selected: w.write(
                "multivalueAllSelected",
                v.multivalue_all_selected,
                v.multivalue_all_selected,
            ),
            secure: w.write("secure", v.secure, v.secure),
            value_exposed: w.write("valueExposed", v.value_exposed, v.value_exposed),
            storage_path: v.storage_path,
            is_date: w.write("isDate", v.is_date, v.is_date),
            date_format: v.date_format,
            hidden: w.write("hidden", v.hidden, v.hidden),
            option_type: v.option_type,
            extra: v.extra,
        }
    }
}
