//! The SQLite side of the store: schema, load at start, and the statements the writer runs.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Objects, StoreError};

/// Opens the database with write-ahead logging and full sync: a commit is on disk when it returns.
pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS objects (
             resource TEXT NOT NULL,
             namespace TEXT NOT NULL,
             name TEXT NOT NULL,
             rv INTEGER NOT NULL,
             data BLOB NOT NULL,
             PRIMARY KEY (resource, namespace, name)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    )?;
    Ok(conn)
}

/// Loads every object and the last committed resourceVersion.
pub(super) fn load(conn: &mut Connection) -> Result<(Objects, u64), StoreError> {
    let mut objects: Objects = Objects::new();
    let mut max_rv: u64 = 0;
    let mut stmt = conn.prepare("SELECT resource, namespace, name, rv, data FROM objects")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let resource: String = row.get(0)?;
        let namespace: String = row.get(1)?;
        let name: String = row.get(2)?;
        let rv: i64 = row.get(3)?;
        let data: Vec<u8> = row.get(4)?;
        let value = serde_json::from_slice(&data).map_err(|source| StoreError::Corrupt {
            key: format!("{resource}/{namespace}/{name}"),
            source,
        })?;
        max_rv = max_rv.max(rv as u64);
        objects
            .entry(Arc::from(resource.as_str()))
            .or_default()
            .insert((namespace, name), Arc::new(value));
    }
    drop(rows);
    drop(stmt);
    let stored: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'rv'", [], |r| r.get(0))
        .optional()?;
    Ok((objects, max_rv.max(stored.unwrap_or(0) as u64)))
}

/// Writes (inserts or replaces) one object inside the open transaction.
pub(super) fn put(
    conn: &Connection,
    key: &super::ObjectKey,
    rv: u64,
    data: &[u8],
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO objects (resource, namespace, name, rv, data) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (resource, namespace, name) DO UPDATE SET rv = excluded.rv, data = excluded.data",
    )?
    .execute(params![&*key.resource, key.namespace, key.name, rv as i64, data])?;
    Ok(())
}

/// Removes one object inside the open transaction.
pub(super) fn delete(conn: &Connection, key: &super::ObjectKey) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
    )?
    .execute(params![&*key.resource, key.namespace, key.name])?;
    Ok(())
}

/// Records the last resourceVersion inside the open transaction.
pub(super) fn set_rv(conn: &Connection, rv: u64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO meta (key, value) VALUES ('rv', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
        .execute(params![rv as i64])?;
    Ok(())
}
