//! The files a run writes must not be its source, nor inside a directory
//! source, nor each other: a rejects file given as the source's own path
//! would truncate the export it is reading (and chmod it to 0600), and one
//! inside a directory source would be read as part of it by the next run.
//! Checked before anything is written.
//!
//! Two paths are the same file when they name one existing file (same device
//! and inode: a hard link or a symbolic link counts), or, when one does not
//! exist yet, when their directories resolve to the same directory and their
//! names are equal (`./users.csv` and `users.csv`).

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::source::Input;

/// `path` with `suffix` added to its file name: `users.csv` →
/// `users.csv.rejects.jsonl`, the files that belong to another.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes the SQLite database `path` and the `-wal` and `-shm` files
/// beside it, those that exist.
pub fn remove_database(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        match std::fs::remove_file(with_suffix(path, suffix)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Checks that no output in `outputs` (a name for messages, a path) is the
/// source `input`, and that no two outputs are the same file.
pub fn check(input: &Input, outputs: &[(&'static str, &Path)]) -> Result<(), Error> {
    if let Input::File(source) = input {
        if let Some((what, path)) = outputs.iter().find(|(_, p)| same_file(p, source)) {
            return Err(Error::OutputIsSource {
                what,
                path: path.to_path_buf(),
            });
        }
        if let Some((what, path)) = outputs.iter().find(|(_, p)| inside_dir(p, source)) {
            return Err(Error::OutputInSource {
                what,
                path: path.to_path_buf(),
            });
        }
    }
    for (i, (what, path)) in outputs.iter().enumerate() {
        if let Some((other, _)) = outputs[i + 1..].iter().find(|(_, p)| same_file(p, path)) {
            return Err(Error::OutputsCollide {
                what,
                other,
                path: path.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Whether `a` and `b` name the same file (see the module documentation).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return (x.dev(), x.ino()) == (y.dev(), y.ino());
        }
    }
    match (resolved(a), resolved(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Whether `path` (which need not exist) lies inside the directory `dir`,
/// at any depth; false when `dir` is not a directory.
fn inside_dir(path: &Path, dir: &Path) -> bool {
    if !dir.is_dir() {
        return false;
    }
    match (resolved(path), std::fs::canonicalize(dir)) {
        (Some(path), Ok(dir)) => path != dir && path.starts_with(&dir),
        _ => false,
    }
}

/// `path` with its directory resolved (the file itself need not exist).
fn resolved(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_is_found_however_it_is_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("users.csv");
        std::fs::write(&source, "id\n").unwrap();
        let dotted = dir.path().join(".").join("users.csv");
        let via_parent = dir.path().join("sub").join("..").join("users.csv");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(same_file(&dotted, &source));
        assert!(same_file(&via_parent, &source));
        #[cfg(unix)]
        {
            let linked = dir.path().join("hard.csv");
            std::fs::hard_link(&source, &linked).unwrap();
            assert!(same_file(&linked, &source));
            let symlink = dir.path().join("soft.csv");
            std::os::unix::fs::symlink(&source, &symlink).unwrap();
            assert!(same_file(&symlink, &source));
        }
        // Not yet written: compared by resolved directory and name.
        let new = dir.path().join("out.jsonl");
        assert!(same_file(&dir.path().join("sub/../out.jsonl"), &new));
        assert!(!same_file(&new, &source));
        assert!(!same_file(&dir.path().join("other.csv"), &source));
    }

    #[test]
    fn an_output_inside_a_directory_source_is_refused_and_one_beside_it_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("export");
        std::fs::create_dir(&export).unwrap();
        std::fs::write(export.join("realm-users-0.json"), "{}").unwrap();
        let input = Input::File(export.clone());
        let beside = dir.path().join("export.rejects.jsonl");
        assert!(check(&input, &[("rejects file", &beside)]).is_ok());
        for inside in [
            export.join("rejects.jsonl"),
            export.join(".").join("r.jsonl"),
            dir.path().join("export/../export/r.jsonl"),
        ] {
            let err = check(&input, &[("rejects file", &inside)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::OutputInSource {
                        what: "rejects file",
                        ..
                    }
                ),
                "{}: {err}",
                inside.display()
            );
        }
    }

    #[test]
    fn an_output_on_the_source_or_on_another_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("users.csv");
        std::fs::write(&source, "id\n").unwrap();
        let input = Input::File(source.clone());
        let rejects = dir.path().join("rejects.jsonl");
        let checkpoint = dir.path().join("cp");
        assert!(check(
            &input,
            &[("rejects file", &rejects), ("checkpoint", &checkpoint)]
        )
        .is_ok());
        let spelled = dir.path().join("./users.csv");
        let err = check(
            &input,
            &[("checkpoint", &checkpoint), ("rejects file", &spelled)],
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::OutputIsSource {
                    what: "rejects file",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_usage());
        let err = check(&input, &[("rejects file", &rejects), ("report", &rejects)]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::OutputsCollide {
                    what: "rejects file",
                    other: "report",
                    ..
                }
            ),
            "{err}"
        );
        assert!(check(&Input::Stdin, &[("rejects file", &source)]).is_ok());
    }
}
