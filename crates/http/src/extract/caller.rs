//! Who is calling: the authenticated subject with the API version of the
//! path ([`Caller`]), and the client's address ([`ClientAddr`]).

use crate::api::ApiVersion;
use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::Extensions;
use foredeck_core::authorizer::Subject;
use std::net::SocketAddr;

/// The authenticated caller of a request: subject, API version, address.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// Who: set by the authentication in front of every API route.
    pub subject: Subject,
    /// The API version of the path.
    pub version: ApiVersion,
    /// The client's address, when the server has connect info.
    pub source: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Both are set by the middleware in front of every API route.
        let subject = parts
            .extensions
            .get::<Subject>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("access", "the API"))?;
        let version = parts
            .extensions
            .get::<ApiVersion>()
            .copied()
            .unwrap_or(ApiVersion(crate::CURRENT_API));
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(Caller {
            subject,
            version,
            source,
        })
    }
}

/// The client's address, when the server was started with connect info.
pub(crate) fn client_addr(ext: &Extensions) -> Option<String> {
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The client's address as an extractor (none when the router is called
/// without connect info, as in tests).
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(&parts.extensions)))
    }
}
