//! Native-messaging framing: a 32-bit native-endian length, then the payload.
//!
//! Written in-house (it is short and security relevant): the length is checked
//! against [`MAX_FRAME_BYTES`] *before* anything is allocated, and a stream
//! that ends inside a frame is reported as truncated rather than as a clean
//! end of input.

use std::io::{self, ErrorKind, Read, Write};

use crate::MAX_FRAME_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the {max} byte limit", max = MAX_FRAME_BYTES)]
    TooLarge { len: u64 },
    #[error("input ended inside a frame: expected {expected} bytes, got {got}")]
    Truncated { expected: usize, got: usize },
    #[error("I/O error on the native-messaging pipe: {0}")]
    Io(#[from] io::Error),
}

/// Reads one frame. `Ok(None)` means the browser closed the pipe between
/// frames, which is the normal way a host is told to exit.
pub fn read_frame(reader: &mut impl Read) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0u8; 4];
    let got = read_full(reader, &mut header)?;
    if got == 0 {
        return Ok(None);
    }
    if got < header.len() {
        return Err(FrameError::Truncated {
            expected: header.len(),
            got,
        });
    }
    let len = u32::from_ne_bytes(header) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge { len: len as u64 });
    }
    let mut payload = vec![0u8; len];
    let got = read_full(reader, &mut payload)?;
    if got < len {
        return Err(FrameError::Truncated { expected: len, got });
    }
    Ok(Some(payload))
}

/// Writes one frame and flushes, so the browser sees the reply at once.
pub fn write_frame(writer: &mut impl Write, payload: &[u8]) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len: payload.len() as u64,
        });
    }
    writer.write_all(&(payload.len() as u32).to_ne_bytes())?;
    writer.write_all(payload)?;
    writer.flush()?;
    Ok(())
}

/// Like `read_exact`, but reports how much arrived before EOF.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn round_trip_several_frames() {
        let mut stream = frame(b"{\"a\":1}");
        stream.extend(frame(b""));
        stream.extend(frame("ünïcødé".as_bytes()));
        let mut r = Cursor::new(stream);
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"{\"a\":1}");
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"");
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), "ünïcødé".as_bytes());
        assert!(read_frame(&mut r).unwrap().is_none());
    }

    #[test]
    fn header_is_native_endian_length() {
        let f = frame(b"abc");
        assert_eq!(&f[..4], &3u32.to_ne_bytes());
        assert_eq!(&f[4..], b"abc");
    }

    #[test]
    fn exactly_max_is_accepted_one_more_is_not() {
        let big = vec![b'x'; MAX_FRAME_BYTES];
        let mut r = Cursor::new(frame(&big));
        assert_eq!(read_frame(&mut r).unwrap().unwrap().len(), MAX_FRAME_BYTES);

        let mut out = Vec::new();
        let err = write_frame(&mut out, &vec![b'x'; MAX_FRAME_BYTES + 1]).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }));
        assert!(
            out.is_empty(),
            "nothing may be written for an oversized frame"
        );
    }

    #[test]
    fn oversized_header_is_rejected_before_allocating() {
        let mut r = Cursor::new(u32::MAX.to_ne_bytes().to_vec());
        let err = read_frame(&mut r).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { len } if len == u32::MAX as u64));
    }

    #[test]
    fn truncated_header_and_payload_are_errors() {
        let mut r = Cursor::new(vec![1u8, 0]);
        assert!(matches!(
            read_frame(&mut r).unwrap_err(),
            FrameError::Truncated {
                expected: 4,
                got: 2
            }
        ));
        let mut stream = 10u32.to_ne_bytes().to_vec();
        stream.extend(b"abc");
        let mut r = Cursor::new(stream);
        assert!(matches!(
            read_frame(&mut r).unwrap_err(),
            FrameError::Truncated {
                expected: 10,
                got: 3
            }
        ));
    }

    /// A reader that hands out one byte at a time and is interrupted in between,
    /// as a pipe may be.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        interrupt: bool,
    }
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::Error::from(ErrorKind::Interrupted));
            }
            if self.pos == self.data.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.data[self.pos];
            self.pos += 1;
            Ok(1)
        }
    }

    #[test]
    fn partial_reads_and_interrupts_are_retried() {
        let mut r = Trickle {
            data: frame(b"hello"),
            pos: 0,
            interrupt: false,
        };
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"hello");
        assert!(read_frame(&mut r).unwrap().is_none());
    }
}
