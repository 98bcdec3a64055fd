//! ACL policies of the [`MemoryStore`]: its [`AclStore`] impl.

use super::{not_found, MemoryStore};
use crate::error::Result;
use crate::store::{AclPolicy, AclStore};
use async_trait::async_trait;

#[async_trait]
impl AclStore for MemoryStore {
    async fn put_acl_policy(&self, policy: &AclPolicy) -> Result<()> {
        self.write()?.acl.insert(
            (policy.project.clone(), policy.name.clone()),
            policy.clone(),
        );
        Ok(())
    }

    async fn get_acl_policy(&self, project: Option<&str>, name: &str) -> Result<Option<AclPolicy>> {
        Ok(self
            .read()?
            .acl
            .get(&(project.map(str::to_owned), name.to_owned()))
            .cloned())
    }

    async fn list_acl_policies(&self, project: Option<&str>) -> Result<Vec<AclPolicy>> {
        Ok(self
            .read()?
            .acl
            .values()
            .filter(|p| p.project.as_deref() == project)
            .cloned()
            .collect())
    }

    async fn delete_acl_policy(&self, project: Option<&str>, name: &str) -> Result<()> {
        self.write()?
            .acl
            .remove(&(project.map(str::to_owned), name.to_owned()))
            .map(|_| ())
            .ok_or_else(|| not_found("ACL policy", name))
    }
}
