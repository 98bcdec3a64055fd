//! Column helpers shared by the migrations. Changing what they produce would
//! change landed migrations: add new helpers instead.

use sea_orm::DatabaseBackend;
use sea_orm_migration::prelude::*;

/// Column helpers that pick a type each backend handles well.
pub(crate) struct Types(pub(crate) DatabaseBackend);

impl Types {
    /// A string that is part of a key or index: `VARCHAR(255)` on MySQL
    /// (index length limits), unbounded `VARCHAR`/`TEXT` elsewhere.
    pub(crate) fn key<T: IntoIden>(&self, col: T) -> ColumnDef {
        let mut c = ColumnDef::new(col);
        c.string();
        c
    }

    /// Text of any length (`LONGTEXT` on MySQL, whose `TEXT` stops at 64 KiB).
    pub(crate) fn text<T: IntoIden>(&self, col: T) -> ColumnDef {
        let mut c = ColumnDef::new(col);
        if self.0 == DatabaseBackend::MySql {
            c.custom(Alias::new("LONGTEXT"));
        } else {
            c.text();
        }
        c
    }

    /// Bytes of any length (`LONGBLOB` on MySQL, `BYTEA` on PostgreSQL).
    pub(crate) fn bytes<T: IntoIden>(&self, col: T) -> ColumnDef {
        let mut c = ColumnDef::new(col);
        if self.0 == DatabaseBackend::MySql {
            c.custom(Alias::new("LONGBLOB"));
        } else {
            c.blob();
        }
        c.not_null();
        c
    }

    /// A new table; on MySQL/MariaDB with a binary collation so that names
    /// compare exactly (case- and accent-sensitive) as they do elsewhere.
    pub(crate) fn table<T: IntoTableRef>(&self, table: T) -> TableCreateStatement {
        let mut t = Table::create();
        t.table(table);
        if self.0 == DatabaseBackend::MySql {
            t.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        t
    }
}
