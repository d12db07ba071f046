//! The schema, one migration list per database (their DDL differs only in how ids are made),
//! embedded in the binary and run by sqlx's migrator, which records what it applied in
//! `_sqlx_migrations` and refuses a database whose applied migrations were changed.
use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType};

use super::Backend;

/// (version, description, SQLite, PostgreSQL).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[(
    1,
    "questions and feedback",
    include_str!("migrations/0001_sqlite.sql"),
    include_str!("migrations/0001_postgres.sql"),
)];

/// The migrations of one database.
#[derive(Debug, Clone, Copy)]
pub struct Embedded(pub Backend);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sqlite, postgres)| {
                    let sql = match self.0 {
                        Backend::Sqlite => sqlite,
                        Backend::Postgres => postgres,
                    };
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}
