//! Errors of the SSH executor.

use foredeck_core::{Error, Node};

/// An executor error on `node`.
pub(crate) fn node_error(node: &Node, message: impl Into<String>) -> Error {
    Error::Executor {
        node: node.name.clone(),
        message: message.into(),
    }
}
