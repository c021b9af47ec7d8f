//! Where a source comes from ([`Input`]), and its bytes: a buffered reader
//! that knows its absolute offset.
//!
//! Every parser reads through [`ByteStream`]'s `fill_buf` / `consume`, and
//! every consumed byte moves `offset`, so a row's offsets are exact file
//! offsets (a BOM included). Opening sniffs the first bytes:
//! - gzip's magic bytes (`1f 8b`), whatever the file is called: the stream is
//!   decompressed as it is read (concatenated gzip members too), and offsets
//!   count *decompressed* bytes. Such a stream cannot seek, so a resume reads
//!   forward from the start to the offset, which is exact, only slower;
//! - then, in the (decompressed) bytes, a UTF-8 BOM is consumed (it is not
//!   data), and a UTF-16 or UTF-32 BOM is an error, because a UTF-8 parser
//!   would read such a file as garbage rows.
//!
//! A parser may also put back bytes it has just consumed
//! ([`ByteStream::unread`]): the CSV reader does, to read on from the second
//! line of a row whose quote never closed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};

use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::error::SourceError;

/// Size of the read buffer. Large enough that a row (at most 64 KiB, usually
/// a few hundred bytes) rarely straddles two reads.
const BUFFER_BYTES: usize = 256 * 1024;

/// The UTF-8 byte order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The first two bytes of every gzip member (RFC 1952).
const GZIP_MAGIC: &[u8] = b"\x1f\x8b";

/// Where a source is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-` on the command line); cannot be resumed by seeking.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    /// The input a command-line argument names: `-` is standard input.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(arg))
        }
    }

    /// The number of bytes positions count up to, when known without
    /// reading: a file's size, a directory's total; `None` for standard input
    /// and for gzip (positions count decompressed bytes). For progress.
    pub fn size(&self) -> Option<u64> {
        let Input::File(path) = self else {
            return None;
        };
        if path.is_dir() {
            return super::directory::size_of(path);
        }
        if is_gzip(path).unwrap_or(false) {
            return None;
        }
        std::fs::metadata(path).ok().map(|m| m.len())
    }

    /// A name for messages: the path, or "standard input".
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "standard input".to_owned(),
            Input::File(path) => path.display().to_string(),
        }
    }
}

/// A buffered source of bytes that counts its absolute offset.
pub(super) struct ByteStream {
    /// The buffered bytes; `Send` so the reader can live on its own thread.
    reader: BufReader<Box<dyn Read + Send>>,
    /// Bytes given back by [`ByteStream::unread`]: `fill_buf` serves them
    /// (from `pending_at` on) before `reader`'s.
    pending: Vec<u8>,
    /// How much of `pending` has been consumed again.
    pending_at: usize,
    /// Absolute offset of the next byte `fill_buf` returns.
    offset: u64,
    /// The file size, for progress and to clamp a seek; `None` for standard
    /// input and for a compressed stream (its decompressed size is unknown).
    total_size: Option<u64>,
    /// Whether the bytes are decompressed from gzip: such a stream moves to
    /// an offset by reading forward, never by seeking.
    compressed: bool,
}

impl ByteStream {
    /// Opens `input` at its start, checks its encoding and consumes a UTF-8 BOM.
    pub(super) fn open(input: &Input) -> Result<ByteStream, SourceError> {
        let (raw, total_size) = open_raw(input)?;
        ByteStream::start(raw, total_size, &input.name())
    }

    /// Starts reading `raw` (named `name` in errors): checks its encoding and
    /// consumes a UTF-8 BOM.
    pub(super) fn start(
        raw: Box<dyn Read + Send>,
        total_size: Option<u64>,
        name: &str,
    ) -> Result<ByteStream, SourceError> {
        let (raw, prefix) = sniff(raw).map_err(|e| SourceError::io(name, e))?;
        let compressed = prefix.starts_with(GZIP_MAGIC);
        let (raw, prefix, total_size) = if compressed {
            let gunzip: Box<dyn Read + Send> = Box::new(Gunzip(MultiGzDecoder::new(raw)));
            let (raw, prefix) = sniff(gunzip).map_err(|e| SourceError::io(name, e))?;
            (raw, prefix, None)
        } else {
            (raw, prefix, total_size)
        };
        if let Some(encoding) = foreign_encoding(&prefix) {
            return Err(SourceError::UnsupportedEncoding {
                input: name.to_owned(),
                encoding,
            });
        }
        let mut stream = ByteStream {
            reader: BufReader::with_capacity(BUFFER_BYTES, raw),
            pending: Vec::new(),
            pending_at: 0,
            offset: 0,
            total_size,
            compressed,
        };
        if prefix.starts_with(UTF8_BOM) {
            // The BOM is in the first fill: the prefix is read before the rest.
            let buffered = stream.fill_buf().map_err(|e| SourceError::io(name, e))?;
            debug_assert!(buffered.starts_with(UTF8_BOM));
            stream.consume(UTF8_BOM.len());
        }
        Ok(stream)
    }

    /// Moves to `offset`: a file by opening it again and seeking, a
    /// compressed stream by reading forward. An offset at or before the
    /// current position leaves the stream where it is: that is how a resume
    /// point before the first data row starts at the first one. An offset past
    /// the end stops at the end, so [`ByteStream::offset`] never exceeds the
    /// length of the bytes.
    pub(super) fn skip_to(&mut self, input: &Input, offset: u64) -> Result<(), SourceError> {
        let offset = offset.min(self.total_size.unwrap_or(u64::MAX));
        if offset <= self.offset {
            return Ok(());
        }
        if self.compressed {
            return self
                .discard(offset - self.offset)
                .map_err(|e| SourceError::io(&input.name(), e));
        }
        let Input::File(path) = input else {
            return Err(SourceError::ResumeOnStdin);
        };
        let mut file = File::open(path).map_err(|e| SourceError::io(&input.name(), e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| SourceError::io(&input.name(), e))?;
        self.reader = BufReader::with_capacity(BUFFER_BYTES, Box::new(file));
        self.pending.clear();
        self.pending_at = 0;
        self.offset = offset;
        Ok(())
    }

    /// Reads and drops up to `n` bytes (fewer at the end of the input).
    fn discard(&mut self, mut n: u64) -> io::Result<()> {
        while n > 0 {
            let buf = self.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let take = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            self.consume(take);
            n -= take as u64;
        }
        Ok(())
    }

    /// Puts back `bytes`, which must be the last bytes consumed: they are read
    /// again, at the offsets they had, before anything else.
    pub(super) fn unread(&mut self, bytes: &[u8]) {
        let rest = &self.pending[self.pending_at..];
        let mut pending = Vec::with_capacity(bytes.len() + rest.len());
        pending.extend_from_slice(bytes);
        pending.extend_from_slice(rest);
        self.pending = pending;
        self.pending_at = 0;
        self.offset -= bytes.len() as u64;
    }

    /// The buffered bytes from the current offset; empty at end of input.
    pub(super) fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pending_at < self.pending.len() {
            return Ok(&self.pending[self.pending_at..]);
        }
        loop {
            match self.reader.fill_buf() {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(self.reader.buffer())
    }

    /// Marks `n` bytes of the last `fill_buf` as read.
    pub(super) fn consume(&mut self, n: usize) {
        if self.pending_at < self.pending.len() {
            self.pending_at += n;
            debug_assert!(self.pending_at <= self.pending.len());
            if self.pending_at >= self.pending.len() {
                self.pending.clear();
                self.pending_at = 0;
            }
        } else {
            self.reader.consume(n);
        }
        self.offset += n as u64;
    }

    /// Absolute offset of the next unread byte.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// The file size; `None` for standard input.
    pub(super) fn total_size(&self) -> Option<u64> {
        self.total_size
    }
}

/// Reads the first bytes of `raw` (up to 4, fewer if it is shorter) and
/// returns a reader that yields them again, then the rest.
fn sniff(mut raw: Box<dyn Read + Send>) -> io::Result<(Box<dyn Read + Send>, Vec<u8>)> {
    let mut prefix = [0u8; 4];
    let n = read_prefix(&mut raw, &mut prefix)?;
    let prefix = prefix[..n].to_vec();
    let chained: Box<dyn Read + Send> = Box::new(Cursor::new(prefix.clone()).chain(raw));
    Ok((chained, prefix))
}

/// The first `limit` bytes of `input` as its parsers see them: decompressed,
/// a UTF-8 BOM dropped. For a format's `claims` test.
pub(super) fn head(input: &Input, limit: usize) -> Result<Vec<u8>, SourceError> {
    let mut stream = ByteStream::open(input)?;
    let mut head = Vec::new();
    while head.len() < limit {
        let buf = stream
            .fill_buf()
            .map_err(|e| SourceError::io(&input.name(), e))?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len().min(limit - head.len());
        head.extend_from_slice(&buf[..n]);
        stream.consume(n);
    }
    Ok(head)
}

/// Whether the file at `path` holds gzip data (starts with its magic bytes).
pub(super) fn is_gzip(path: &Path) -> io::Result<bool> {
    let mut prefix = [0u8; 2];
    let n = read_prefix(&mut File::open(path)?, &mut prefix)?;
    Ok(prefix[..n] == *GZIP_MAGIC)
}

/// A gzip decoder whose errors say that the gzip data is at fault, not the
/// disk: "unexpected end of file" alone reads like a truncated copy of a
/// plain file.
struct Gunzip<R>(MultiGzDecoder<R>);

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            let what = if e.kind() == io::ErrorKind::UnexpectedEof {
                "is truncated"
            } else {
                "is corrupt"
            };
            io::Error::new(e.kind(), format!("the gzip data {what} ({e})"))
        })
    }
}

/// Opens the raw bytes of `input` and, for a file, its size.
fn open_raw(input: &Input) -> Result<(Box<dyn Read + Send>, Option<u64>), SourceError> {
    match input {
        Input::Stdin => Ok((Box::new(io::stdin()), None)),
        Input::File(path) => {
            let file = File::open(path).map_err(|e| SourceError::io(&input.name(), e))?;
            let size = file
                .metadata()
                .map_err(|e| SourceError::io(&input.name(), e))?
                .len();
            Ok((Box::new(file), Some(size)))
        }
    }
}

/// Reads until `buf` is full or the input ends (a pipe may deliver fewer
/// bytes per read); returns how many bytes were read.
fn read_prefix(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The encoding a file's first bytes announce when it is not UTF-8: a UTF-16
/// or UTF-32 byte order mark (UTF-32 is checked first, its little-endian BOM
/// starts like UTF-16's).
fn foreign_encoding(prefix: &[u8]) -> Option<&'static str> {
    const BOMS: [(&[u8], &str); 4] = [
        (b"\xFF\xFE\x00\x00", "UTF-32LE"),
        (b"\x00\x00\xFE\xFF", "UTF-32BE"),
        (b"\xFF\xFE", "UTF-16LE"),
        (b"\xFE\xFF", "UTF-16BE"),
    ];
    BOMS.iter()
        .find(|(bom, _)| prefix.starts_with(bom))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_name_their_encoding() {
        assert_eq!(foreign_encoding(b"\xFF\xFEi\x00"), Some("UTF-16LE"));
        assert_eq!(foreign_encoding(b"\xFE\xFF\x00i"), Some("UTF-16BE"));
        assert_eq!(foreign_encoding(b"\xFF\xFE\x00\x00"), Some("UTF-32LE"));
        assert_eq!(foreign_encoding(b"\x00\x00\xFE\xFF"), Some("UTF-32BE"));
        assert_eq!(foreign_encoding(b"\xEF\xBB\xBFid"), None);
        assert_eq!(foreign_encoding(b"id,e"), None);
        assert_eq!(foreign_encoding(b""), None);
    }

    #[test]
    fn read_prefix_collects_short_reads() {
        // A reader that hands out one byte per call, like a slow pipe.
        struct OneByte(Vec<u8>);
        impl Read for OneByte {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0.remove(0);
                Ok(1)
            }
        }
        let mut reader = OneByte(b"\xFF\xFEab".to_vec());
        let mut buf = [0u8; 4];
        assert_eq!(read_prefix(&mut reader, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"\xFF\xFEab");
        let mut short = OneByte(b"a".to_vec());
        assert_eq!(read_prefix(&mut short, &mut buf).unwrap(), 1);
    }
}
