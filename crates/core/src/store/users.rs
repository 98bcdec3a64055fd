//! [`UserStore`]: users and their API tokens (hashes only).

use super::{ApiToken, User};
use crate::error::Result;
use async_trait::async_trait;
use std::sync::Arc;

/// Persistence of users and API tokens: one area, since a user's tokens go
/// with the user.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates or replaces a user.
    async fn put_user(&self, user: &User) -> Result<()>;
    /// A user by login.
    async fn get_user(&self, login: &str) -> Result<Option<User>>;
    /// All users, by login.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Deletes a user (and their tokens); not-found if missing.
    async fn delete_user(&self, login: &str) -> Result<()>;

    /// Stores a new token; a conflict if its id or hash exists.
    async fn create_token(&self, token: &ApiToken) -> Result<()>;
    /// The token whose secret hashes to `token_hash`.
    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    /// Tokens of a user (all with `None`), by creation time.
    async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>>;
    /// Deletes a token by id; not-found if missing.
    async fn delete_token(&self, id: &str) -> Result<()>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: UserStore + ?Sized> UserStore for $($t)* {
            async fn put_user(&self, u: &User) -> Result<()> { (**self).put_user(u).await }
            async fn get_user(&self, l: &str) -> Result<Option<User>> { (**self).get_user(l).await }
            async fn list_users(&self) -> Result<Vec<User>> { (**self).list_users().await }
            async fn delete_user(&self, l: &str) -> Result<()> { (**self).delete_user(l).await }
            async fn create_token(&self, t: &ApiToken) -> Result<()> { (**self).create_token(t).await }
            async fn find_token(&self, h: &str) -> Result<Option<ApiToken>> { (**self).find_token(h).await }
            async fn list_tokens(&self, u: Option<&str>) -> Result<Vec<ApiToken>> { (**self).list_tokens(u).await }
            async fn delete_token(&self, id: &str) -> Result<()> { (**self).delete_token(id).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
