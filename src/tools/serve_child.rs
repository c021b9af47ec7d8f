//! `ferry serve` as a child process, for the tools that need the server in
//! a process of its own: `ferry bench` (CPU and memory accounted per side),
//! the `server_put` bench, and the test that kills the server with SIGKILL.
//!
//! The server prints its URL on its first line of standard output
//! (`ferry serve: listening on http://127.0.0.1:PORT …`); [`ServeChild::start`]
//! waits for it, then keeps reading (and dropping) the rest of standard
//! output until the server exits, so that it never writes into a closed pipe.

use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `ferry serve` child and its URL. Killed (SIGKILL) and reaped
/// when dropped, unless [`ServeChild::into_child`] took it.
#[derive(Debug)]
pub struct ServeChild {
    child: Option<Child>,
    url: String,
}

impl ServeChild {
    /// `EXE serve --addr 127.0.0.1:0 --db DB`: the server on an ephemeral
    /// loopback port; add flags, environment and standard error to taste.
    pub fn command(exe: impl AsRef<OsStr>, db: &Path) -> Command {
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--db"]).arg(db);
        cmd
    }

    /// Spawns `serve` (a `ferry serve …` command: this sets its standard
    /// output) and waits up to `deadline` for the URL it prints.
    pub fn start(mut serve: Command, deadline: Duration) -> io::Result<ServeChild> {
        let mut child = serve.stdout(Stdio::piped()).spawn()?;
        let (url_tx, url_rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut url_tx = Some(url_tx);
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(url) = url_in(&line) {
                        if let Some(tx) = url_tx.take() {
                            let _ = tx.send(url.to_owned());
                        }
                    }
                }
            });
        }
        let mut started = ServeChild {
            child: Some(child),
            url: String::new(),
        };
        // On error, dropping `started` kills the child.
        match url_rx.recv_timeout(deadline) {
            Ok(url) => {
                started.url = url;
                Ok(started)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("ferry serve printed no URL within {} s", deadline.as_secs()),
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "ferry serve closed its standard output without printing a URL (see its log)",
            )),
        }
    }

    /// The base URL the server listens on (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) -> io::Result<()> {
        match self.child.take() {
            Some(mut child) => {
                child.kill()?;
                child.wait().map(drop)
            }
            None => Ok(()),
        }
    }

    /// The child process, for a caller that stops and reaps it itself.
    pub fn into_child(mut self) -> Option<Child> {
        self.child.take()
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// The first `http://` word of a line.
fn url_in(line: &str) -> Option<&str> {
    line.split_whitespace().find(|w| w.starts_with("http://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_the_first_http_word() {
        let line = "ferry serve: listening on http://127.0.0.1:4242 (tenant 'demo', pool 'default', database t.db)";
        assert_eq!(url_in(line), Some("http://127.0.0.1:4242"));
        assert_eq!(url_in("client id 'ferry'"), None);
    }

    #[test]
    fn a_child_that_prints_no_url_is_killed_at_the_deadline() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let err = ServeChild::start(cmd, Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn a_child_that_exits_without_a_url_is_reported_at_once() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'cannot open the database'; exit 1"]);
        let err = ServeChild::start(cmd, Duration::from_secs(30)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn the_url_is_read_from_a_later_line_too() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo starting; echo 'listening on http://127.0.0.1:9 now'; exec sleep 30",
        ]);
        let mut child = ServeChild::start(cmd, Duration::from_secs(10)).unwrap();
        assert_eq!(child.url(), "http://127.0.0.1:9");
        child.kill().unwrap();
    }
}
