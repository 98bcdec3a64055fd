//! Which nodes a job (or a job reference) runs on and how it dispatches to
//! them: Rundeck's `nodefilters` with its `dispatch` settings.

use super::flex::{self, Flexed, Written};
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
#[serde(from = "RawDispatch", into = "RawDispatch")]
pub struct Dispatch {
    /// Nodes run at once.
    pub threadcount: u32,
    /// Keep going on other nodes when a node fails.
    pub keepgoing: bool,
    /// Attribute to order nodes by (default: name).
    pub rank_attribute: Option<String>,
    /// Ascending or descending.
    pub rank_order: RankOrder,
    /// Exclusions win over inclusions.
    pub exclude_precedence: bool,
    /// An empty node set is a success, not a failure.
    pub success_on_empty_node_filter: bool,
    /// How its scalars were written, to write them back alike.
    pub written: Written,
    /// Fields this version does not know, kept for export.
    pub extra: Extra,
}

/// [`Dispatch`] as documents write it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDispatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threadcount: Option<Flexed<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keepgoing: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rank_attribute: Option<String>,
    #[serde(default)]
    rank_order: RankOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exclude_precedence: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    success_on_empty_node_filter: Option<Flexed<bool>>,
    #[serde(flatten)]
    extra: Extra,
}

impl From<RawDispatch> for Dispatch {
    fn from(r: RawDispatch) -> Self {
        let mut w = Written::default();
        Dispatch {
            threadcount: w.read("threadcount", r.threadcount).unwrap_or(1),
            keepgoing: w.read("keepgoing", r.keepgoing).unwrap_or(false),
            rank_attribute: r.rank_attribute,
            rank_order: r.rank_order,
            exclude_precedence: w
                .read("excludePrecedence", r.exclude_precedence)
                .unwrap_or(true),
            success_on_empty_node_filter: w
                .read("successOnEmptyNodeFilter", r.success_on_empty_node_filter)
                .unwrap_or(false),
            written: w,
            extra: r.extra,
        }
    }
}

impl From<Dispatch> for RawDispatch {
    fn from(d: Dispatch) -> Self {
        let w = &d.written;
        RawDispatch {
            threadcount: w.write("threadcount", d.threadcount, true),
            keepgoing: w.write("keepgoing", d.keepgoing, true),
            rank_attribute: d.rank_attribute,
            rank_order: d.rank_order,
            exclude_precedence: w.write("excludePrecedence", d.exclude_precedence, true),
            success_on_empty_node_filter: w.write(
                "successOnEmptyNodeFilter",
                d.success_on_empty_node_filter,
                d.success_on_empty_node_filter,
            ),
            extra: d.extra,
        }
    }
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
            written: Written::default(),
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
