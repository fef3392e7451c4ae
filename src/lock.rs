//! One process per SQLite file: a lock file beside the database, held while the process runs.
//!
//! SQLite tolerates several processes, but this bot keeps its state in memory and would not see
//! another process's writes; two bots on one file would contradict each other. PostgreSQL
//! deployments coordinate through the database instead.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use anyhow::{Result, bail};

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
    path: PathBuf,
}

impl DatabaseLock {
    /// Takes the lock for a `sqlite://PATH` URL; `None` for other databases and in-memory SQLite.
    ///
    /// # Errors
    /// When another process holds it.
    pub fn acquire(url: &str) -> Result<Option<DatabaseLock>> {
        let Some(path) = sqlite_path(url) else { return Ok(None) };
        let lock_path = PathBuf::from(format!("{path}.lock"));
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DatabaseLock { _file: file, path: lock_path })),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another facilitator process is using {path} (it holds {}); stop it first, or use a different database",
                lock_path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

/// The file of a `sqlite://PATH[?...]` URL.
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:") && path != "memory").then(|| path.to_owned())
}

/// A `--db` argument as a URL: a path becomes `sqlite://PATH`.
pub fn database_url(db: &str) -> String {
    if db.contains("://") || db.starts_with("sqlite:") { db.to_owned() } else { format!("sqlite://{db}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_process_on_one_sqlite_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/f.db", dir.path().display());
        let first = DatabaseLock::acquire(&url).unwrap();
        assert!(first.is_some());
        let err = DatabaseLock::acquire(&url).unwrap_err();
        assert!(err.to_string().contains("another facilitator process"));
        drop(first);
        assert!(DatabaseLock::acquire(&url).unwrap().is_some());
        assert!(DatabaseLock::acquire("postgres://x@h/db").unwrap().is_none());
    }
}
