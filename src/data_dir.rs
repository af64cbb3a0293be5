//! The data directory's permissions: created 0700; the default SQLite database (with its
//! `-wal` and `-shm`) and the generated secret are 0600 files of the user running classchat.

use std::path::Path;

/// The database files of the default SQLite URL (`classchat.db` in the data directory).
const DB_FILES: [&str; 3] = ["classchat.db", "classchat.db-wal", "classchat.db-shm"];

/// Creates `dir` (and missing parents) with mode 0700; an existing one is left as it is.
pub fn create(dir: &Path) -> Result<(), String> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(|e| format!("CLASSCHAT_DATA_DIR: cannot create {}: {e}", dir.display()))
}

/// Before the default SQLite database opens: the directory exists (0700), the database
/// file exists as 0600 (SQLite gives its `-wal` and `-shm` the database file's mode),
/// and files left more open by an older version are narrowed to 0600.
pub fn prepare_sqlite(dir: &Path) -> Result<(), String> {
    create(dir)?;
    let db = dir.join(DB_FILES[0]);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(&db) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", db.display())),
    }
    for name in DB_FILES {
        narrow(&dir.join(name))?;
    }
    Ok(())
}

/// Sets an existing file's mode to 0600 if group or others have any access.
#[cfg(unix)]
fn narrow(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if meta.permissions().mode() & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot make {} private (0600): {e}", path.display()))
}

#[cfg(not(unix))]
fn narrow(_: &Path) -> Result<(), String> {
    Ok(())
}

/// A file classchat trusts (the generated secret) must belong to the user running it
/// and be writable by nobody else.
#[cfg(unix)]
pub fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "{} belongs to uid {}, not to the user running classchat (uid {me}): refused",
            path.display(),
            meta.uid()
        ));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by group or others: refused (chmod 600 it, or delete it to have a new one made)",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}
