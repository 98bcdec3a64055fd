//! Which nodes a job (or a job reference) runs on and how it dispatches to
//! them: Rundeck's `nodefilters` with its `dispatch` settings.

use super::flex;
use super::Extra;
use serde::{Deserialize, Serialize};

/// A node filter and how to dispatch to the nodes it selects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFilters {
    /// Filter string (`tags: web !name: db1`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub filter: Option<String>,
    /// Dispatch settings.
    #[serde(default)]
    pub dispatch: Dispatch,
    /// Fields this version does not know, kept for export.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Node dispatch settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dispatch {
    /// Nodes run at once.
    #[serde(default = "one", deserialize_with = "flex::u32")]
    pub threadcount: u32,
    /// Keep going on other nodes when a node fails.
    #[serde(default, deserialize_with = "flex::bool")]
    pub keepgoing: bool,
    /// Attribute to order nodes by (default: name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_attribute: Option<String>,
    /// Ascending or descending.
    #[serde(default)]
    pub rank_order: RankOrder,
    /// Exclusions win over inclusions.
    #[serde(default = "flex::yes", deserialize_with = "flex::bool")]
    pub exclude_precedence: bool,
    /// An empty node set is a success, not a failure.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub success_on_empty_node_filter: bool,
    /// Fields this version does not know, kept for export.
    #[serde(flatten)]
    pub extra: Extra,
}

fn one() -> u32 {
    1
}

impl Default for Dispatch {
    fn default() -> Self {
        Dispatch {
            threadcount: 1,
            keepgoing: false,
            rank_attribute: None,
            rank_order: RankOrder::Ascending,
            exclude_precedence: true,
            success_on_empty_node_filter: false,
            extra: Extra::new(),
        }
    }
}

/// Node ordering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RankOrder {
    /// A to Z.
    #[default]
    Ascending,
    /// Z to A.
    Descending,
}
