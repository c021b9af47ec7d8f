//! Where the server's client credentials come from.
//!
//! The client id is `FERRY_CLIENT_ID` (default `ferry`). The secret is
//! `FERRY_CLIENT_SECRET` when set; otherwise it lives in a file next to the
//! database, `<db>.secret`, created with a random secret and mode 0600 on
//! first start and read again on later starts, so clients that read the file
//! keep working across restarts. The secret itself is never printed, logged
//! or put in an error: callers show the file's path.
//!
//! The importer's embedded target uses the same functions, so both sides of
//! an embedded run agree on the secret without it ever reaching argv.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::config::{ClientSecret, DEFAULT_CLIENT_ID};
use crate::private::{self, private_file};

/// Environment variable holding the client id.
pub const ENV_CLIENT_ID: &str = "FERRY_CLIENT_ID";
/// Environment variable holding the client secret.
pub const ENV_CLIENT_SECRET: &str = "FERRY_CLIENT_SECRET";

/// The client credentials a server accepts.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The client id.
    pub client_id: String,
    /// The client secret (redacted in `Debug`).
    pub client_secret: ClientSecret,
    /// Where the secret came from, to tell the user without showing it.
    pub source: SecretSource,
}

/// Where a client secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `FERRY_CLIENT_SECRET`.
    Environment,
    /// An existing secret file.
    ExistingFile(PathBuf),
    /// A secret file just created with a random secret.
    NewFile(PathBuf),
}

impl SecretSource {
    /// The secret file, when the secret lives in one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            SecretSource::Environment => None,
            SecretSource::ExistingFile(path) | SecretSource::NewFile(path) => Some(path),
        }
    }
}

/// Reading or writing the secret file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The file could not be read, created or written.
    #[error("cannot use the client secret file {path}: {source}")]
    Io {
        /// The secret file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file exists but holds no secret.
    #[error("the client secret file {path} is empty")]
    Empty {
        /// The secret file.
        path: PathBuf,
    },
}

/// The secret file that belongs to a database: `<db>.secret`.
pub fn secret_path_for(db_path: &Path) -> PathBuf {
    crate::outputs::with_suffix(db_path, ".secret")
}

/// Resolves the credentials from the process environment
/// (`FERRY_CLIENT_ID`, `FERRY_CLIENT_SECRET`), falling back to the secret
/// file of `db_path`.
pub fn from_env(db_path: &Path) -> Result<ClientCredentials, CredentialsError> {
    resolve(
        std::env::var(ENV_CLIENT_ID).ok(),
        std::env::var(ENV_CLIENT_SECRET).ok(),
        db_path,
    )
}

/// Resolves the credentials from the given values (empty counts as unset),
/// falling back to the secret file of `db_path`: read when it exists, created
/// with a random secret otherwise.
pub fn resolve(
    client_id: Option<String>,
    client_secret: Option<String>,
    db_path: &Path,
) -> Result<ClientCredentials, CredentialsError> {
    let client_id = client_id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_owned());
    if let Some(secret) = client_secret.filter(|s| !s.is_empty()) {
        return Ok(ClientCredentials {
            client_id,
            client_secret: ClientSecret::new(secret),
            source: SecretSource::Environment,
        });
    }
    let (client_secret, source) = load_or_create(&secret_path_for(db_path))?;
    Ok(ClientCredentials {
        client_id,
        client_secret,
        source,
    })
}

/// Reads the secret in `path`, or creates the file (mode 0600) with a new
/// random secret when it does not exist.
pub fn load_or_create(path: &Path) -> Result<(ClientSecret, SecretSource), CredentialsError> {
    let io_err = |source| CredentialsError::Io {
        path: path.to_owned(),
        source,
    };
    match fs::read_to_string(path) {
        Ok(text) => {
            let secret = text.trim();
            if secret.is_empty() {
                return Err(CredentialsError::Empty {
                    path: path.to_owned(),
                });
            }
            warn_if_readable_by_others(path);
            Ok((
                ClientSecret::new(secret),
                SecretSource::ExistingFile(path.to_owned()),
            ))
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let secret = ClientSecret::generate();
            write_new(path, &secret).map_err(io_err)?;
            Ok((secret, SecretSource::NewFile(path.to_owned())))
        }
        Err(err) => Err(io_err(err)),
    }
}

/// Creates `path` exclusively with mode 0600 (never replacing a file another
/// process just created) and writes the secret to it, synced.
fn write_new(path: &Path, secret: &ClientSecret) -> io::Result<()> {
    let mut file = private_file(fs::OpenOptions::new().write(true).create_new(true), path)?;
    file.write_all(secret.expose().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Warns when users other than the owner may read the secret file: it is
/// theirs to fix (the file may be shared on purpose), so it is not changed.
fn warn_if_readable_by_others(path: &Path) {
    if let Some(mode) = private::open_to_others(path) {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            "The client secret file is readable by other users; chmod 600 it."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let creds = resolve(Some("me".into()), Some("s3cret".into()), &db).unwrap();
        assert_eq!(creds.client_id, "me");
        assert_eq!(creds.client_secret.expose(), "s3cret");
        assert_eq!(creds.source, SecretSource::Environment);
        assert!(!secret_path_for(&db).exists());
    }

    #[test]
    fn file_is_created_private_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let first = resolve(None, Some(String::new()), &db).unwrap();
        let path = secret_path_for(&db);
        assert_eq!(first.client_id, DEFAULT_CLIENT_ID);
        assert_eq!(first.source, SecretSource::NewFile(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let second = resolve(None, None, &db).unwrap();
        assert_eq!(second.source, SecretSource::ExistingFile(path));
        assert_eq!(second.client_secret, first.client_secret);
    }

    #[test]
    fn empty_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        fs::write(secret_path_for(&db), "\n").unwrap();
        assert!(matches!(
            resolve(None, None, &db),
            Err(CredentialsError::Empty { .. })
        ));
    }
}
