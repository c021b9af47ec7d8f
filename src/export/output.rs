//! The export file: plain JSON Lines, gzipped (`.gz`), or standard output.
//!
//! Lines are written in blocks (one page of users), and a checkpoint is
//! only ever taken at the end of a block, after the file is synced: the
//! checkpoint's offset is always the end of a whole line. A resumed export
//! truncates the file back to that offset (dropping a line half written
//! when the run died, and any block written after the last checkpoint) and
//! appends from there, so that its file is byte-identical to one written
//! in one go.
//!
//! A gzipped export is a sequence of gzip members, one per block
//! (RFC 1952 allows it; `gunzip`, `zcat` and ferry's own reader read them
//! as one stream). A block's member depends on the block alone (flate2's
//! header carries no time or name), so a resumed file is byte-identical
//! too, and the file can be cut at any member's end.
//!
//! The file holds password hashes: it is created with mode 0600
//! ([`crate::private`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

/// Where the export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A file; gzipped when its name ends in `.gz`.
    File(PathBuf),
    /// Standard output (`-`): plain, and never resumed.
    Stdout,
}

impl Destination {
    /// The destination a command-line argument names (`-` is standard output).
    pub fn from_arg(arg: &str) -> Destination {
        match arg {
            "-" => Destination::Stdout,
            path => Destination::File(PathBuf::from(path)),
        }
    }

    /// Whether the export is gzipped.
    pub fn gzip(&self) -> bool {
        match self {
            Destination::File(path) => path.extension().is_some_and(|e| e == "gz"),
            Destination::Stdout => false,
        }
    }

    /// The file, if the export goes to one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Destination::File(path) => Some(path),
            Destination::Stdout => None,
        }
    }

    /// For messages: the path, or "standard output".
    pub fn describe(&self) -> String {
        match self {
            Destination::File(path) => path.display().to_string(),
            Destination::Stdout => "standard output".to_string(),
        }
    }
}

/// What is written to.
#[derive(Debug)]
enum Sink {
    File(File),
    Stdout(io::Stdout),
}

/// The open export file.
#[derive(Debug)]
pub struct Output {
    /// The file or standard output.
    sink: Sink,
    /// Each block becomes a gzip member.
    gzip: bool,
    /// Bytes in the file: where the next block goes.
    offset: u64,
}

impl Output {
    /// Opens `destination`: created (0600) or emptied, or with `resume`,
    /// an existing file cut back to the offset `resume` (the end of the
    /// last block a checkpoint recorded). A file shorter than that is not
    /// the one the checkpoint describes: an error.
    pub fn open(destination: &Destination, resume: Option<u64>) -> io::Result<Output> {
        let gzip = destination.gzip();
        let path = match destination {
            Destination::Stdout => {
                return Ok(Output {
                    sink: Sink::Stdout(io::stdout()),
                    gzip,
                    offset: 0,
                })
            }
            Destination::File(path) => path,
        };
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(resume.is_none());
        let mut file = crate::private::private_file(&mut options, path)?;
        let offset = resume.unwrap_or(0);
        if resume.is_some() {
            let length = file.metadata()?.len();
            if length < offset {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "it holds {length} bytes, fewer than the {offset} the checkpoint recorded: \
                         it is not the file the checkpoint describes"
                    ),
                ));
            }
            file.set_len(offset)?;
            file.seek(SeekFrom::Start(offset))?;
        }
        Ok(Output {
            sink: Sink::File(file),
            gzip,
            offset,
        })
    }

    /// Writes one block of whole lines.
    pub fn write_block(&mut self, lines: &[u8]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let member;
        let bytes = if self.gzip {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(lines)?;
            member = encoder.finish()?;
            &member[..]
        } else {
            lines
        };
        match &mut self.sink {
            Sink::File(file) => file.write_all(bytes)?,
            Sink::Stdout(out) => out.lock().write_all(bytes)?,
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Makes every block written so far durable; returns the offset a
    /// checkpoint may record.
    pub fn sync(&mut self) -> io::Result<u64> {
        match &mut self.sink {
            Sink::File(file) => file.sync_data()?,
            Sink::Stdout(out) => out.flush()?,
        }
        Ok(self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_resumed_file_is_cut_back_to_the_checkpoint_and_ends_alike() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["out.jsonl", "out.jsonl.gz"] {
            let whole = Destination::File(dir.path().join(format!("whole-{name}")));
            let mut out = Output::open(&whole, None).unwrap();
            for block in [&b"a\n"[..], b"b\nc\n", b"d\n"] {
                out.write_block(block).unwrap();
            }
            out.sync().unwrap();
            let cut = Destination::File(dir.path().join(name));
            let mut out = Output::open(&cut, None).unwrap();
            out.write_block(b"a\n").unwrap();
            out.write_block(b"b\nc\n").unwrap();
            let offset = out.sync().unwrap();
            out.write_block(b"d\n").unwrap();
            drop(out);
            // A line half written after the checkpoint.
            let mut file = OpenOptions::new()
                .append(true)
                .open(cut.path().unwrap())
                .unwrap();
            file.write_all(b"{\"user\":").unwrap();
            let mut out = Output::open(&cut, Some(offset)).unwrap();
            out.write_block(b"d\n").unwrap();
            out.sync().unwrap();
            let read = |d: &Destination| std::fs::read(d.path().unwrap()).unwrap();
            assert_eq!(read(&whole), read(&cut), "{name}");
            if name.ends_with(".gz") {
                let mut text = String::new();
                flate2::read::MultiGzDecoder::new(&read(&cut)[..])
                    .read_to_string(&mut text)
                    .unwrap();
                assert_eq!(text, "a\nb\nc\nd\n");
            }
        }
    }

    #[test]
    fn a_file_shorter_than_the_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = Destination::File(dir.path().join("out.jsonl"));
        std::fs::write(path.path().unwrap(), b"a\n").unwrap();
        assert!(Output::open(&path, Some(10)).is_err());
    }
}
