//! Projects and their nodes on SQL: the [`ProjectStore`] impl.

use super::jobs::bump_job_revision;
use super::{begin_write, to_json, SqlStore, INSERT_BATCH};
use crate::entity::{
    acl_policies, execution_counts, execution_tallies, execution_totals, executions, jobs,
    log_chunks, nodes, projects, run_states, triggers, webhooks,
};
use crate::error::{codec, db};
use async_trait::async_trait;
use foredeck_core::model::{Node, Project};
use foredeck_core::store::ProjectStore;
use foredeck_core::{Error, Result};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use std::collections::BTreeMap;

#[async_trait]
impl ProjectStore for SqlStore {
    async fn create_project(&self, project: &Project) -> Result<()> {
        let row = projects::ActiveModel {
            name: Set(project.name.clone()),
            description: Set(project.description.clone()),
            config: Set(to_json("project config", &project.config)?),
            readme: Set(project.readme.clone()),
            motd: Set(project.motd.clone()),
        };
        let exists = projects::Entity::find_by_id(project.name.clone())
            .one(&self.db)
            .await
            .map_err(db)?
            .is_some();
        let conflict = || Error::Conflict(format!("project {:?} exists", project.name));
        if exists {
            return Err(conflict());
        }
        match projects::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(db)
        {
            Ok(_) => Ok(()),
            Err(Error::Conflict(_)) => Err(conflict()),
            Err(e) => Err(e),
        }
    }

    async fn update_project(&self, project: &Project) -> Result<()> {
        let res = projects::Entity::update_many()
            .col_expr(
                projects::Column::Description,
                Expr::value(project.description.clone()),
            )
            .col_expr(
                projects::Column::Config,
                Expr::value(to_json("project config", &project.config)?),
            )
            .col_expr(
                projects::Column::Readme,
                Expr::value(project.readme.clone()),
            )
            .col_expr(projects::Column::Motd, Expr::value(project.motd.clone()))
            .filter(projects::Column::Name.eq(&project.name))
            .exec(&self.db)
            .await
            .map_err(db)?;
        // MySQL counts changed rows only: check that a missing row is missing.
        if res.rows_affected == 0 && self.get_project(&project.name).await?.is_none() {
            return Err(Error::NotFound {
                kind: "project",
                id: project.name.clone(),
            });
        }
        Ok(())
    }

    async fn get_project(&self, name: &str) -> Result<Option<Project>> {
        projects::Entity::find_by_id(name.to_owned())
            .one(&self.db)
            .await
            .map_err(db)?
            .map(project_from)
            .transpose()
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        let mut list = projects::Entity::find()
            .all(&self.db)
            .await
            .map_err(db)?
            .into_iter()
            .map(project_from)
            .collect::<Result<Vec<_>>>()?;
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    async fn delete_project(&self, name: &str) -> Result<()> {
        let txn = begin_write(&self.db).await?;
        let deleted = projects::Entity::delete_many()
            .filter(projects::Column::Name.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        if deleted.rows_affected == 0 {
            return Err(Error::NotFound {
                kind: "project",
                id: name.into(),
            });
        }
        log_chunks::Entity::delete_many()
            .filter(
                log_chunks::Column::ExecutionId.in_subquery(
                    Query::select()
                        .column(executions::Column::Id)
                        .from(executions::Entity)
                        .and_where(executions::Column::Project.eq(name))
                        .to_owned(),
                ),
            )
            .exec(&txn)
            .await
            .map_err(db)?;
        run_states::Entity::delete_many()
            .filter(
                run_states::Column::ExecutionId.in_subquery(
                    Query::select()
                        .column(executions::Column::Id)
                        .from(executions::Entity)
                        .and_where(executions::Column::Project.eq(name))
                        .to_owned(),
                ),
            )
            .exec(&txn)
            .await
            .map_err(db)?;
        executions::Entity::delete_many()
            .filter(executions::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        jobs::Entity::delete_many()
            .filter(jobs::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        // kept, raised: a project made again under this name must not match
        // a list cached before
        bump_job_revision(&txn, name).await?;
        nodes::Entity::delete_many()
            .filter(nodes::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        execution_counts::Entity::delete_many()
            .filter(execution_counts::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        execution_totals::Entity::delete_many()
            .filter(execution_totals::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        execution_tallies::Entity::delete_many()
            .filter(execution_tallies::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        triggers::Entity::delete_many()
            .filter(triggers::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        acl_policies::Entity::delete_many()
            .filter(acl_policies::Column::Scope.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        webhooks::Entity::delete_many()
            .filter(webhooks::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        txn.commit().await.map_err(db)
    }

    async fn replace_nodes(&self, project: &str, source: &str, nodes: &[Node]) -> Result<()> {
        // A later node of the same name replaces an earlier one, as in memory.
        let mut by_name: BTreeMap<&str, &Node> = BTreeMap::new();
        for n in nodes {
            by_name.insert(&n.name, n);
        }
        let rows = by_name
            .into_values()
            .map(|n| {
                Ok(nodes::ActiveModel {
                    project: Set(project.to_owned()),
                    source: Set(source.to_owned()),
                    name: Set(n.name.clone()),
                    attributes: Set(to_json("node", n)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let txn = begin_write(&self.db).await?;
        nodes::Entity::delete_many()
            .filter(nodes::Column::Project.eq(project))
            .filter(nodes::Column::Source.eq(source))
            .exec(&txn)
            .await
            .map_err(db)?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<_> = rows.by_ref().take(INSERT_BATCH).collect();
            nodes::Entity::insert_many(batch)
                .exec(&txn)
                .await
                .map_err(db)?;
        }
        txn.commit().await.map_err(db)
    }

    async fn list_nodes(&self, project: &str) -> Result<Vec<Node>> {
        let mut rows = nodes::Entity::find()
            .filter(nodes::Column::Project.eq(project))
            .all(&self.db)
            .await
            .map_err(db)?;
        // Byte order of source names, like MemoryStore's BTreeMap (SQL
        // collations differ between backends).
        rows.sort_by(|a, b| a.source.cmp(&b.source));
        let mut merged: BTreeMap<String, Node> = BTreeMap::new();
        for row in rows {
            let node: Node = serde_json::from_str(&row.attributes).map_err(|e| codec("node", e))?;
            merged.insert(node.name.clone(), node);
        }
        Ok(merged.into_values().collect())
    }
}

fn project_from(m: projects::Model) -> Result<Project> {
    Ok(Project {
        config: serde_json::from_str(&m.config).map_err(|e| codec("project config", e))?,
        name: m.name,
        description: m.description,
        readme: m.readme,
        motd: m.motd,
    })
}
