//! Users and API tokens of the [`MemoryStore`]: its [`UserStore`] impl.

use super::{not_found, MemoryStore};
use crate::error::{Error, Result};
use crate::store::{ApiToken, User, UserStore};
use async_trait::async_trait;

#[async_trait]
impl UserStore for MemoryStore {
    async fn put_user(&self, user: &User) -> Result<()> {
        self.write()?.users.insert(user.login.clone(), user.clone());
        Ok(())
    }

    async fn get_user(&self, login: &str) -> Result<Option<User>> {
        Ok(self.read()?.users.get(login).cloned())
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self.read()?.users.values().cloned().collect())
    }

    async fn delete_user(&self, login: &str) -> Result<()> {
        let mut inner = self.write()?;
        inner
            .users
            .remove(login)
            .ok_or_else(|| not_found("user", login))?;
        inner.tokens.retain(|_, t| t.user != login);
        Ok(())
    }

    async fn create_token(&self, token: &ApiToken) -> Result<()> {
        let mut inner = self.write()?;
        if inner.tokens.contains_key(&token.id)
            || inner
                .tokens
                .values()
                .any(|t| t.token_hash == token.token_hash)
        {
            return Err(Error::Conflict(format!("token {:?} exists", token.id)));
        }
        inner.tokens.insert(token.id.clone(), token.clone());
        Ok(())
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        Ok(self
            .read()?
            .tokens
            .values()
            .find(|t| t.token_hash == token_hash)
            .cloned())
    }

    async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>> {
        let mut list: Vec<ApiToken> = self
            .read()?
            .tokens
            .values()
            .filter(|t| user.is_none_or(|u| u == t.user))
            .cloned()
            .collect();
        list.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(list)
    }

    async fn delete_token(&self, id: &str) -> Result<()> {
        self.write()?
            .tokens
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| not_found("token", id))
    }
}
