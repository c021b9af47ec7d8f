//! One run at a time per checkpoint and per rejects file: two runs on one
//! checkpoint would each move its watermark and truncate each other's
//! rejects. A run holds an exclusive lock (the operating system's advisory
//! file lock, `std::fs::File::try_lock`) on `<checkpoint>.lock` and
//! `<rejects>.lock` from before it reads the checkpoint until it ends; the
//! lock files hold the holder's process id, for the message a second run
//! gets. The lock goes with the process, however it ends (`kill -9`
//! included), so a stale lock file never blocks a later run.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::ImportError;

/// The locks of a run; released when dropped.
#[derive(Debug)]
pub(crate) struct RunLock {
    /// The locked files, kept open.
    _files: Vec<File>,
}

impl RunLock {
    /// Locks `<path>.lock` for each of `paths`, or says which run holds one.
    pub(crate) fn acquire<'a>(
        paths: impl IntoIterator<Item = &'a Path>,
    ) -> Result<RunLock, ImportError> {
        let files = paths
            .into_iter()
            .map(|path| lock(&lock_path(path)))
            .collect::<Result<Vec<File>, ImportError>>()?;
        Ok(RunLock { _files: files })
    }
}

/// `path` with `.lock` appended to its name.
fn lock_path(path: &Path) -> PathBuf {
    crate::outputs::with_suffix(path, ".lock")
}

/// Takes the lock of `path` and writes this process's id into it.
fn lock(path: &Path) -> Result<File, ImportError> {
    let io = |source| ImportError::Lock {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(ImportError::Locked {
                path: path.to_path_buf(),
                holder: text.trim().parse().ok(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_with_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = dir.path().join("users.csv.ferry-checkpoint");
        let rejects = dir.path().join("users.csv.rejects.jsonl");
        let first = RunLock::acquire([checkpoint.as_path(), rejects.as_path()]).unwrap();
        // Another handle on the same file is another lock, as another process's would be.
        let err = RunLock::acquire([rejects.as_path()]).unwrap_err();
        match &err {
            ImportError::Locked { path, holder } => {
                assert_eq!(path, &lock_path(&rejects));
                assert_eq!(*holder, Some(std::process::id()));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.is_usage());
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(first);
        assert!(RunLock::acquire([checkpoint.as_path(), rejects.as_path()]).is_ok());
    }
}
