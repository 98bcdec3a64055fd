//! [`WebhookStore`]: webhooks that start jobs (token hashes only).

use super::Webhook;
use crate::error::Result;
use async_trait::async_trait;
use std::sync::Arc;

/// Persistence of webhooks.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates or replaces a webhook (by id); a conflict when another
    /// webhook of the project has its name or any webhook its token hash.
    async fn put_webhook(&self, hook: &Webhook) -> Result<()>;
    /// A webhook by id.
    async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>>;
    /// The webhook whose token hashes to `token_hash`.
    async fn find_webhook(&self, token_hash: &str) -> Result<Option<Webhook>>;
    /// The webhooks of a project, by name.
    async fn list_webhooks(&self, project: &str) -> Result<Vec<Webhook>>;
    /// Deletes a webhook; not-found if missing.
    async fn delete_webhook(&self, id: &str) -> Result<()>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: WebhookStore + ?Sized> WebhookStore for $($t)* {
            async fn put_webhook(&self, h: &Webhook) -> Result<()> { (**self).put_webhook(h).await }
            async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>> { (**self).get_webhook(id).await }
            async fn find_webhook(&self, h: &str) -> Result<Option<Webhook>> { (**self).find_webhook(h).await }
            async fn list_webhooks(&self, p: &str) -> Result<Vec<Webhook>> { (**self).list_webhooks(p).await }
            async fn delete_webhook(&self, id: &str) -> Result<()> { (**self).delete_webhook(id).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
