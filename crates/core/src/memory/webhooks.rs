//! Webhooks of the [`MemoryStore`]: its [`WebhookStore`] impl.

use super::{not_found, MemoryStore};
use crate::error::{Error, Result};
use crate::store::{Webhook, WebhookStore};
use async_trait::async_trait;

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn put_webhook(&self, hook: &Webhook) -> Result<()> {
        let mut inner = self.write()?;
        if let Some(other) = inner.webhooks.values().find(|w| {
            w.id != hook.id
                && ((w.project == hook.project && w.name == hook.name)
                    || w.token_hash == hook.token_hash)
        }) {
            let why = if other.token_hash == hook.token_hash {
                "its token is taken".to_owned()
            } else {
                format!(
                    "project {} has a webhook named {:?}",
                    hook.project, hook.name
                )
            };
            return Err(Error::Conflict(format!("webhook {}: {why}", hook.id)));
        }
        inner.webhooks.insert(hook.id.clone(), hook.clone());
        Ok(())
    }

    async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>> {
        Ok(self.read()?.webhooks.get(id).cloned())
    }

    async fn find_webhook(&self, token_hash: &str) -> Result<Option<Webhook>> {
        Ok(self
            .read()?
            .webhooks
            .values()
            .find(|w| w.token_hash == token_hash)
            .cloned())
    }

    async fn list_webhooks(&self, project: &str) -> Result<Vec<Webhook>> {
        let mut list: Vec<Webhook> = self
            .read()?
            .webhooks
            .values()
            .filter(|w| w.project == project)
            .cloned()
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(list)
    }

    async fn delete_webhook(&self, id: &str) -> Result<()> {
        self.write()?
            .webhooks
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| not_found("webhook", id))
    }
}
