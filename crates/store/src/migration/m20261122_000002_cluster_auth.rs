//! Scheduling, clusters and access: triggers, server heartbeats, execution
//! ownership and claims, per-status execution counts (history totals without
//! `count(*)`), known hosts, users, API tokens, ACL policies, audit events.

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Adds the tables of the scheduler, the cluster and the server.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Executions {
    Table,
    Id,
    Status,
    ServerUuid,
}

#[derive(Clone, Copy, DeriveIden)]
enum ExecutionCounts {
    Table,
    Project,
    JobKey,
    Status,
    N,
}

#[derive(Clone, Copy, DeriveIden)]
enum KnownHosts {
    Table,
    Host,
    Key,
    Modified,
}

#[derive(Clone, Copy, DeriveIden)]
enum Triggers {
    Table,
    Id,
    Project,
    JobId,
    NextFire,
    Enabled,
    Spec,
    ClaimedBy,
    ClaimExpires,
}

#[derive(Clone, Copy, DeriveIden)]
enum ServerHeartbeats {
    Table,
    Server,
    Started,
    LastSeen,
    Info,
}

#[derive(Clone, Copy, DeriveIden)]
enum Users {
    Table,
    Login,
    Record,
}

#[derive(Clone, Copy, DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    TokenHash,
    User,
    Created,
    Record,
}

#[derive(Clone, Copy, DeriveIden)]
enum AclPolicies {
    Table,
    Scope,
    Name,
    Content,
    Modified,
}

#[derive(Clone, Copy, DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    Time,
    User,
    Action,
    ResourceType,
    Resource,
    Project,
    Record,
}

fn big<T: IntoIden>(col: T) -> ColumnDef {
    let mut c = ColumnDef::new(col);
    c.big_integer().not_null();
    c
}

fn index<T: IntoIden + Copy + 'static>(
    name: &str,
    table: impl IntoIden + 'static,
    cols: &[T],
) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(*c);
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ty = Types(manager.get_database_backend());

        manager
            .alter_table(
                Table::alter()
                    .table(Executions::Table)
                    .add_column(ty.key(Executions::ServerUuid).null())
                    .to_owned(),
            )
            .await?;
        // Claims find unowned work of one status without a scan.
        manager
            .create_index(index(
                "executions_status_server",
                Executions::Table,
                &[Executions::Status, Executions::ServerUuid, Executions::Id],
            ))
            .await?;

        manager
            .create_table(
                ty.table(ExecutionCounts::Table)
                    .col(ty.key(ExecutionCounts::Project).not_null())
                    .col(ty.key(ExecutionCounts::JobKey).not_null())
                    .col(ty.key(ExecutionCounts::Status).not_null())
                    .col(big(ExecutionCounts::N))
                    .primary_key(
                        Index::create()
                            .col(ExecutionCounts::Project)
                            .col(ExecutionCounts::JobKey)
                            .col(ExecutionCounts::Status),
                    )
                    .to_owned(),
            )
            .await?;
        // Counts of the executions already stored.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO execution_counts (project, job_key, status, n) \
                 SELECT project, COALESCE(job_id, ''), status, COUNT(*) \
                 FROM executions GROUP BY project, COALESCE(job_id, ''), status",
            )
            .await?;

        manager
            .create_table(
                ty.table(KnownHosts::Table)
                    .col(ty.key(KnownHosts::Host).not_null().primary_key())
                    .col(ty.text(KnownHosts::Key).not_null())
                    .col(big(KnownHosts::Modified))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                ty.table(Triggers::Table)
                    .col(ty.key(Triggers::Id).not_null().primary_key())
                    .col(ty.key(Triggers::Project).not_null())
                    .col(ty.key(Triggers::JobId).null())
                    .col(big(Triggers::NextFire))
                    .col(ColumnDef::new(Triggers::Enabled).boolean().not_null())
                    .col(ty.text(Triggers::Spec).not_null())
                    .col(ty.key(Triggers::ClaimedBy).null())
                    .col(ColumnDef::new(Triggers::ClaimExpires).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "triggers_due",
                Triggers::Table,
                &[Triggers::Enabled, Triggers::NextFire],
            ))
            .await?;
        manager
            .create_index(index(
                "triggers_project",
                Triggers::Table,
                &[Triggers::Project],
            ))
            .await?;

        manager
            .create_table(
                ty.table(ServerHeartbeats::Table)
                    .col(ty.key(ServerHeartbeats::Server).not_null().primary_key())
                    .col(big(ServerHeartbeats::Started))
                    .col(big(ServerHeartbeats::LastSeen))
                    .col(ty.text(ServerHeartbeats::Info).not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                ty.table(Users::Table)
                    .col(ty.key(Users::Login).not_null().primary_key())
                    .col(ty.text(Users::Record).not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                ty.table(ApiTokens::Table)
                    .col(ty.key(ApiTokens::Id).not_null().primary_key())
                    .col(ty.key(ApiTokens::TokenHash).not_null())
                    .col(ty.key(ApiTokens::User).not_null())
                    .col(big(ApiTokens::Created))
                    .col(ty.text(ApiTokens::Record).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("api_tokens_hash", ApiTokens::Table, &[ApiTokens::TokenHash])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "api_tokens_user",
                ApiTokens::Table,
                &[ApiTokens::User],
            ))
            .await?;

        manager
            .create_table(
                ty.table(AclPolicies::Table)
                    .col(ty.key(AclPolicies::Scope).not_null())
                    .col(ty.key(AclPolicies::Name).not_null())
                    .col(ty.text(AclPolicies::Content).not_null())
                    .col(big(AclPolicies::Modified))
                    .primary_key(
                        Index::create()
                            .col(AclPolicies::Scope)
                            .col(AclPolicies::Name),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                ty.table(AuditEvents::Table)
                    .col(
                        ColumnDef::new(AuditEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big(AuditEvents::Time))
                    .col(ty.key(AuditEvents::User).not_null())
                    .col(ty.key(AuditEvents::Action).not_null())
                    .col(ty.key(AuditEvents::ResourceType).not_null())
                    .col(ty.key(AuditEvents::Resource).not_null())
                    .col(ty.key(AuditEvents::Project).null())
                    .col(ty.text(AuditEvents::Record).not_null())
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("audit_events_time", AuditEvents::Time),
            ("audit_events_user", AuditEvents::User),
            ("audit_events_project", AuditEvents::Project),
            ("audit_events_resource", AuditEvents::Resource),
        ] {
            manager
                .create_index(index(name, AuditEvents::Table, &[col]))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            AclPolicies::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Users::Table.into_iden(),
            ServerHeartbeats::Table.into_iden(),
            Triggers::Table.into_iden(),
            KnownHosts::Table.into_iden(),
            ExecutionCounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("executions_status_server")
                    .table(Executions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Executions::Table)
                    .drop_column(Executions::ServerUuid)
                    .to_owned(),
            )
            .await
    }
}
