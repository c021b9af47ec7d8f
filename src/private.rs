//! Files only their owner may read: every file ferry writes that can hold a
//! password hash or a secret goes through this module.
//!
//! Source rows carry password hashes, and so do the files made from them:
//! the rejects file, the checkpoint (it keeps the source of rejected rows),
//! the dry run's batch bodies, the target's database and `ferry sample`'s
//! output; the client secret file holds a secret. Under the usual umask 022
//! a plain `File::create` makes them readable by every user of the machine,
//! so they are created with mode 0600 ([`private_file`]), and the
//! directories ferry creates for them with mode 0700 ([`private_dir`]).
//!
//! A file or directory that already exists and is not ferry's alone to
//! decide about is left as it is: a regular file ferry rewrites is tightened
//! to 0600, but a FIFO, a device or the user's own directory is not
//! changed, and a database whose mode lets other users in is reported
//! ([`open_to_others`]) rather than silently changed under a running system.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// The mode of a private file: read and write for its owner only.
pub const FILE_MODE: u32 = 0o600;
/// The mode of a private directory: its owner only.
pub const DIR_MODE: u32 = 0o700;

/// Opens `path` with `options`, creating it with mode 0600. `mode` only
/// applies when the file is created, so an existing regular file is
/// tightened to 0600 too; anything else (a FIFO such as a shell's
/// `>(...)`, a device) is not ferry's to change and keeps its mode.
pub fn private_file(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = options.mode(FILE_MODE).open(path)?;
        if file.metadata()?.is_file() {
            file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// Creates (or replaces) `path` with mode 0600 and writes `bytes` to it:
/// [`std::fs::write`] for a file that must stay private.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    private_file(&mut options, path)?.write_all(bytes)
}

/// Creates `path` and its missing parents with mode 0700. A directory that
/// already exists keeps its mode: it may be the user's own (`--dry-run .`),
/// and the files ferry writes into it are private anyway.
pub fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(path)
}

/// A temporary directory of mode 0700 (tempfile's default is 0777 less the
/// umask: 0755 under the usual 022), removed when dropped: for the indexes
/// on disk that hold what a source or a target holds, hashes included.
pub fn private_temp_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(DIR_MODE));
    }
    builder.tempdir()
}

/// Creates `path` empty with mode 0600 unless it exists; returns whether it
/// created it. For files another program then fills, such as SQLite, which
/// opens an empty file as a new database and gives its `-wal` and `-shm`
/// files the database's mode.
pub fn create_private_if_missing(path: &Path) -> io::Result<bool> {
    match private_file(OpenOptions::new().write(true).create_new(true), path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The permission bits of `path` when users other than its owner may use
/// it (any group or other bit set); `None` when it is private, or cannot be
/// read (whoever opens it next reports that).
pub fn open_to_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn set_umask_022() {
        // SAFETY: umask only swaps the process's file-mode creation mask;
        // nextest runs each test in a process of its own.
        unsafe {
            libc::umask(0o022);
        }
    }

    #[test]
    fn files_are_created_private_and_existing_ones_tightened() {
        set_umask_022();
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new");
        private_file(OpenOptions::new().write(true).create(true), &new).unwrap();
        assert_eq!(mode(&new), 0o600);
        let old = dir.path().join("old");
        std::fs::write(&old, "hash").unwrap();
        assert_eq!(mode(&old), 0o644);
        private_file(OpenOptions::new().write(true), &old).unwrap();
        assert_eq!(mode(&old), 0o600);
    }

    #[test]
    fn written_files_are_private() {
        set_umask_022();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body.json");
        write_private(&path, b"{}").unwrap();
        write_private(&path, b"[]").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"[]");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn created_directories_are_private_and_existing_ones_kept() {
        set_umask_022();
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        private_dir(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        let own = dir.path().join("own");
        std::fs::create_dir(&own).unwrap();
        private_dir(&own).unwrap();
        assert_eq!(mode(&own), 0o755);
    }

    #[test]
    fn a_missing_file_is_created_private_and_an_existing_one_left_alone() {
        set_umask_022();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        assert!(create_private_if_missing(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        std::fs::write(&path, "data").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(!create_private_if_missing(&path).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn any_group_or_other_bit_opens_a_file_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "").unwrap();
        for (bits, open) in [
            (0o600, None),
            (0o400, None),
            (0o640, Some(0o640)),
            (0o604, Some(0o604)),
            (0o644, Some(0o644)),
            (0o620, Some(0o620)),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bits)).unwrap();
            assert_eq!(open_to_others(&path), open, "{bits:o}");
        }
        assert_eq!(open_to_others(&dir.path().join("missing")), None);
    }
}
