//! Key-storage entries (ciphertext only) on SQL: the [`KeyStore`] impl.

use super::{like, like_escape, SqlStore};
use crate::entity::keys;
use crate::error::{codec, db};
use crate::time;
use async_trait::async_trait;
use foredeck_core::store::{KeyStore, KeyType, StoredKey};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

#[async_trait]
impl KeyStore for SqlStore {
    async fn put_key(&self, key: &StoredKey) -> Result<()> {
        let row = keys::ActiveModel {
            path: Set(key.path.clone()),
            key_type: Set(key_type_str(key.key_type).to_owned()),
            ciphertext: Set(key.ciphertext.clone()),
            created: Set(time::to_db(key.created)?),
            modified: Set(time::to_db(key.modified)?),
        };
        keys::Entity::insert(row)
            .on_conflict(
                OnConflict::column(keys::Column::Path)
                    .update_columns([
                        keys::Column::KeyType,
                        keys::Column::Ciphertext,
                        keys::Column::Created,
                        keys::Column::Modified,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn get_key(&self, path: &str) -> Result<Option<StoredKey>> {
        keys::Entity::find_by_id(path.to_owned())
            .one(&self.db)
            .await
            .map_err(db)?
            .map(key_from)
            .transpose()
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<StoredKey>> {
        let rows = keys::Entity::find()
            .filter(Expr::col(keys::Column::Path).like(like(format!("{}%", like_escape(prefix)))))
            .all(&self.db)
            .await
            .map_err(db)?;
        let mut list = rows
            .into_iter()
            // SQLite's LIKE ignores ASCII case: re-check exactly.
            .filter(|m| m.path.starts_with(prefix))
            .map(key_from)
            .collect::<Result<Vec<_>>>()?;
        list.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(list)
    }

    async fn delete_key(&self, path: &str) -> Result<()> {
        let res = keys::Entity::delete_many()
            .filter(keys::Column::Path.eq(path))
            .exec(&self.db)
            .await
            .map_err(db)?;
        if res.rows_affected == 0 {
            return Err(Error::NotFound {
                kind: "key",
                id: path.into(),
            });
        }
        Ok(())
    }
}

fn key_type_str(t: KeyType) -> &'static str {
    match t {
        KeyType::Private => "private",
        KeyType::Public => "public",
        KeyType::Password => "password",
    }
}

fn key_from(m: keys::Model) -> Result<StoredKey> {
    let key_type = match m.key_type.as_str() {
        "private" => KeyType::Private,
        "public" => KeyType::Public,
        "password" => KeyType::Password,
        other => {
            return Err(codec(
                &format!("key {}", m.path),
                format!("unknown type {other:?}"),
            ))
        }
    };
    Ok(StoredKey {
        path: m.path,
        key_type,
        ciphertext: m.ciphertext,
        created: time::from_db(m.created),
        modified: time::from_db(m.modified),
    })
}
