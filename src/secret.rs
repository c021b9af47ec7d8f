//! The OAuth client secret, shared by the importer (which sends it) and the
//! reference server (which checks it).
//!
//! It comes from `FERRY_CLIENT_SECRET` or a file, never from argv; its
//! `Debug` and `Display` print `[redacted]`, so it cannot reach a log, an
//! error or a panic message by accident.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use rand::RngCore;

/// Environment variable holding the client secret.
pub const SECRET_ENV: &str = "FERRY_CLIENT_SECRET";

/// The OAuth2 client secret. Prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

/// Why the client secret could not be obtained. Never holds the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Neither source is set.
    #[error("no client secret: set {SECRET_ENV} or give a file that holds it")]
    Missing,
    /// None of the variables named is set, and no file was given.
    #[error("no client secret: set {names} or give a file that holds it")]
    MissingFrom {
        /// The variables looked at, in order.
        names: String,
    },
    /// The secret file could not be read.
    #[error("cannot read the client secret file {}", path.display())]
    Unreadable {
        /// The file given.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The secret is not UTF-8 text.
    #[error("the client secret from {origin} is not UTF-8 text")]
    NotText {
        /// `FERRY_CLIENT_SECRET` or the file's path.
        origin: String,
    },
    /// The secret is empty (after removing the trailing newline).
    #[error("the client secret from {origin} is empty")]
    Empty {
        /// `FERRY_CLIENT_SECRET` or the file's path.
        origin: String,
    },
}

impl ClientSecret {
    /// Wraps a secret given by the program (tests, the embedded target).
    pub fn new(secret: impl Into<String>) -> ClientSecret {
        ClientSecret(secret.into())
    }

    /// A new random secret: 32 bytes from the operating system's CSPRNG
    /// (through `rand`'s thread generator), hex encoded.
    pub fn generate() -> ClientSecret {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        ClientSecret(hex::encode(bytes))
    }

    /// Reads the secret from `file` when given (trailing newlines removed),
    /// otherwise from `FERRY_CLIENT_SECRET`. The file wins because passing it
    /// is the more explicit choice.
    pub fn from_env_or_file(file: Option<&Path>) -> Result<Self, SecretError> {
        Self::from_sources(std::env::var_os(SECRET_ENV), file)
    }

    /// Reads the secret from `file` when given, otherwise from the first of
    /// the environment variables `names` that is set (`FERRY_TO_CLIENT_SECRET`
    /// then `FERRY_CLIENT_SECRET`, say).
    pub fn from_envs_or_file(names: &[&str], file: Option<&Path>) -> Result<Self, SecretError> {
        let set = names
            .iter()
            .find_map(|n| std::env::var_os(n).map(|v| (*n, v)));
        match (file, set) {
            (None, None) => Err(SecretError::MissingFrom {
                names: names.join(" or "),
            }),
            (Some(_), _) => Self::from_sources(None, file),
            (None, Some((name, value))) => {
                let text = value.into_string().map_err(|_| SecretError::NotText {
                    origin: name.to_string(),
                })?;
                Self::checked(text, name)
            }
        }
    }

    /// [`ClientSecret::from_env_or_file`] with the environment's value given.
    fn from_sources(env: Option<OsString>, file: Option<&Path>) -> Result<Self, SecretError> {
        if let Some(path) = file {
            let origin = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|source| SecretError::Unreadable {
                path: path.to_path_buf(),
                source,
            })?;
            let text = String::from_utf8(bytes).map_err(|_| SecretError::NotText {
                origin: origin.clone(),
            })?;
            return Self::checked(text, &origin);
        }
        let value = env.ok_or(SecretError::Missing)?;
        let text = value.into_string().map_err(|_| SecretError::NotText {
            origin: SECRET_ENV.to_string(),
        })?;
        Self::checked(text, SECRET_ENV)
    }

    /// Removes trailing line endings and refuses an empty result.
    fn checked(mut secret: String, origin: &str) -> Result<Self, SecretError> {
        let kept = secret.trim_end_matches(['\n', '\r']).len();
        secret.truncate(kept);
        if secret.is_empty() {
            return Err(SecretError::Empty {
                origin: origin.to_string(),
            });
        }
        Ok(ClientSecret(secret))
    }

    /// The secret itself: for the Authorization header, the server's
    /// comparison and the secret file only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_and_generated_ones_differ() {
        let secret = ClientSecret::new("hunter2");
        assert!(!format!("{secret:?} {secret}").contains("hunter2"));
        let (a, b) = (ClientSecret::generate(), ClientSecret::generate());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
    }

    #[test]
    fn secret_comes_from_the_file_before_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-file\r\n\n").unwrap();
        let secret = ClientSecret::from_sources(Some("from-env".into()), Some(&file)).unwrap();
        assert_eq!(secret.expose(), "from-file");
        let secret = ClientSecret::from_sources(Some("from-env\n".into()), None).unwrap();
        assert_eq!(secret.expose(), "from-env");
        // Inner spaces and a trailing space are part of the secret.
        std::fs::write(&file, "a b \n").unwrap();
        let secret = ClientSecret::from_sources(None, Some(&file)).unwrap();
        assert_eq!(secret.expose(), "a b ");
    }

    #[test]
    fn missing_empty_or_unreadable_secrets_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            ClientSecret::from_sources(None, None),
            Err(SecretError::Missing)
        ));
        assert!(matches!(
            ClientSecret::from_sources(Some("\n".into()), None),
            Err(SecretError::Empty { .. })
        ));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(matches!(
            ClientSecret::from_sources(None, Some(&empty)),
            Err(SecretError::Empty { .. })
        ));
        let absent = dir.path().join("absent");
        let err = ClientSecret::from_sources(Some("env".into()), Some(&absent)).unwrap_err();
        assert!(matches!(err, SecretError::Unreadable { .. }));
        assert!(err.to_string().contains("absent"));
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            ClientSecret::from_sources(None, Some(&binary)),
            Err(SecretError::NotText { .. })
        ));
    }
}
