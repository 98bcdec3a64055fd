//! [`AclStore`]: `.aclpolicy` documents, per project and for the system.

use super::AclPolicy;
use crate::error::Result;
use async_trait::async_trait;
use std::sync::Arc;

/// Persistence of ACL policies.
#[async_trait]
pub trait AclStore: Send + Sync {
    /// Creates or replaces an ACL policy.
    async fn put_acl_policy(&self, policy: &AclPolicy) -> Result<()>;
    /// An ACL policy by project (`None`: system) and name.
    async fn get_acl_policy(&self, project: Option<&str>, name: &str) -> Result<Option<AclPolicy>>;
    /// The policies of a project (`None`: system policies), by name.
    async fn list_acl_policies(&self, project: Option<&str>) -> Result<Vec<AclPolicy>>;
    /// Deletes an ACL policy; not-found if missing.
    async fn delete_acl_policy(&self, project: Option<&str>, name: &str) -> Result<()>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: AclStore + ?Sized> AclStore for $($t)* {
            async fn put_acl_policy(&self, p: &AclPolicy) -> Result<()> { (**self).put_acl_policy(p).await }
            async fn get_acl_policy(&self, p: Option<&str>, n: &str) -> Result<Option<AclPolicy>> { (**self).get_acl_policy(p, n).await }
            async fn list_acl_policies(&self, p: Option<&str>) -> Result<Vec<AclPolicy>> { (**self).list_acl_policies(p).await }
            async fn delete_acl_policy(&self, p: Option<&str>, n: &str) -> Result<()> { (**self).delete_acl_policy(p, n).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
