//! Backends for the store suites (`foredeck_core::testing::conformance`,
//! which core also runs on MemoryStore): SQLite (temporary file), PostgreSQL
//! and MariaDB (a fresh database per test, dropped after).
//!
//! PostgreSQL and MariaDB are found at `FOREDECK_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432`) and `FOREDECK_TEST_MYSQL`
//! (default `mysql://root@127.0.0.1:3306`). When one is unreachable the test
//! prints a skip notice, unless `CI` is set: then it fails.
#![allow(dead_code)]

use foredeck_store::SqlStore;
use futures::FutureExt;
use sea_orm::{ConnectionTrait, Database};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

pub type S = foredeck_core::testing::conformance::SharedStore;

// ---------------------------------------------------------------- backends

pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/fd.db?mode=rwc", dir.path().display());
    let store = SqlStore::connect(&url).await.unwrap();
    test(Arc::new(store.clone())).await;
    store.close().await.unwrap();
}

pub fn unreachable_server(what: &str, url: &str, err: impl std::fmt::Display) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} at {url} is unreachable and CI is set: {err}");
    }
    eprintln!("SKIPPED: {what} at {url} is unreachable ({err}); set CI to make this a failure");
}

/// Creates a fresh database on a server, runs the test on a store on it,
/// drops it.
pub async fn on_server<F, Fut>(what: &str, env: &str, default: &str, admin_db: &str, test: F)
where
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = ()>,
{
    on_fresh_database(
        what,
        env,
        default,
        admin_db,
        |_admin, url, _name| async move {
            let store = SqlStore::connect(&url).await.unwrap();
            let outcome = AssertUnwindSafe(test(Arc::new(store.clone())))
                .catch_unwind()
                .await;
            store.close().await.unwrap();
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        },
    )
    .await;
}

/// Creates a fresh database on a server, runs the test with the admin
/// connection, the database's URL and its name, drops it (also when the
/// test panics).
pub async fn on_fresh_database<F, Fut>(
    what: &str,
    env: &str,
    default: &str,
    admin_db: &str,
    test: F,
) where
    F: FnOnce(sea_orm::DatabaseConnection, String, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let base = std::env::var(env).unwrap_or_else(|_| default.to_owned());
    let admin_url = format!("{base}/{admin_db}");
    let mut opts = sea_orm::ConnectOptions::new(admin_url.clone());
    opts.acquire_timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(5))
        .sqlx_logging(false);
    let admin = match Database::connect(opts).await {
        Ok(a) => a,
        Err(e) => return unreachable_server(what, &admin_url, e),
    };
    let name = format!("fd_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let outcome = AssertUnwindSafe(test(admin.clone(), format!("{base}/{name}"), name.clone()))
        .catch_unwind()
        .await;
    let drop = if what == "PostgreSQL" {
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    } else {
        format!("DROP DATABASE IF EXISTS {name}")
    };
    admin.execute_unprepared(&drop).await.unwrap();
    admin.close().await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = ()>,
{
    on_server(
        "PostgreSQL",
        "FOREDECK_TEST_POSTGRES",
        "postgres://postgres@127.0.0.1:5432",
        "postgres",
        test,
    )
    .await;
}

pub async fn on_mariadb<F, Fut>(test: F)
where
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = ()>,
{
    on_server(
        "MariaDB",
        "FOREDECK_TEST_MYSQL",
        "mysql://root@127.0.0.1:3306",
        "mysql",
        test,
    )
    .await;
}

macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { crate::on_sqlite(foredeck_core::testing::conformance::$name).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { crate::on_postgres(foredeck_core::testing::conformance::$name).await })*
        }
        mod mariadb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { crate::on_mariadb(foredeck_core::testing::conformance::$name).await })*
        }
    };
}
