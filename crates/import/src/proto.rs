//! Just enough protobuf to read Google Authenticator's `MigrationPayload`.
//!
//! The schema has two messages and a handful of scalar fields, so a reader
//! for the wire format (varints and length-delimited fields) is smaller and
//! easier to audit than a `prost`/`protoc` build step. Every read is
//! bounds-checked; malformed input yields a [`ProtoError`], never a panic.
//!
//! Semantics follow the protobuf spec where it matters for compatibility:
//! unknown fields (and known field numbers with an unexpected wire type) are
//! skipped, the last occurrence of a scalar field wins, and `int32` values
//! are the low 32 bits of their varint.

use std::fmt;

/// Where and how the protobuf payload of an export link is damaged.
///
/// Offsets count bytes from the start of the decoded payload. They help
/// whoever debugs a bad export and never reveal its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The payload ends in the middle of a field.
    #[error("it ends in the middle of a field at byte {offset}")]
    Truncated {
        /// Where the incomplete field (or its varint) starts.
        offset: usize,
    },
    /// A varint longer than 10 bytes, or one that overflows 64 bits.
    #[error("the number at byte {offset} is not a valid varint")]
    BadVarint {
        /// Where the varint starts.
        offset: usize,
    },
    /// A length-delimited field claims more bytes than remain.
    #[error("the field at byte {offset} claims {len} bytes but only {available} remain")]
    LengthOverflow {
        /// Where the length prefix starts.
        offset: usize,
        /// The claimed length.
        len: u64,
        /// Bytes left in the enclosing message.
        available: usize,
    },
    /// A wire type that is invalid or (for deprecated groups) not supported.
    #[error("field {field} at byte {offset} has wire type {wire_type}, which is not valid here")]
    BadWireType {
        /// Where the field key starts.
        offset: usize,
        /// The field number.
        field: u64,
        /// The wire type (low 3 bits of the key).
        wire_type: u8,
    },
    /// Field number 0, which protobuf reserves as invalid.
    #[error("the field at byte {offset} has number 0, which is invalid")]
    BadFieldNumber {
        /// Where the field key starts.
        offset: usize,
    },
}

/// A field's value as found on the wire.
#[derive(Clone, Copy)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32,
}

// Never print field contents: `bytes` fields hold seeds.
impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Varint(_) => f.write_str("Varint(..)"),
            Value::Fixed64 => f.write_str("Fixed64(..)"),
            Value::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
            Value::Fixed32 => f.write_str("Fixed32(..)"),
        }
    }
}

/// Iterates over the fields of one message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole payload, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// A reader over a nested message found by [`Reader::next_field`].
    pub(crate) fn nested(&self, sub: &'a [u8]) -> Self {
        // `sub` is always a sub-slice of `self.buf` ending at `self.pos`.
        let start = self.base + self.pos - sub.len();
        Reader {
            buf: sub,
            pos: 0,
            base: start,
        }
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        let start = self.offset();
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(ProtoError::Truncated { offset: start });
            };
            self.pos += 1;
            // The 10th byte holds bit 63 only; anything more overflows.
            if i == 9 && b > 1 {
                return Err(ProtoError::BadVarint { offset: start });
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtoError::BadVarint { offset: start })
    }

    fn take(&mut self, n: usize, field_start: usize) -> Result<&'a [u8], ProtoError> {
        let rest = &self.buf[self.pos..];
        if rest.len() < n {
            return Err(ProtoError::Truncated {
                offset: field_start,
            });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    /// The next `(field number, value)`, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, ProtoError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let start = self.offset();
        let key = self.varint()?;
        let field = key >> 3;
        let wire_type = (key & 7) as u8;
        if field == 0 {
            return Err(ProtoError::BadFieldNumber { offset: start });
        }
        let value = match wire_type {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8, start)?;
                Value::Fixed64
            }
            2 => {
                let len_at = self.offset();
                let len = self.varint()?;
                let available = self.buf.len() - self.pos;
                let n = usize::try_from(len)
                    .ok()
                    .filter(|&n| n <= available)
                    .ok_or(ProtoError::LengthOverflow {
                        offset: len_at,
                        len,
                        available,
                    })?;
                Value::Bytes(self.take(n, start)?)
            }
            5 => {
                self.take(4, start)?;
                Value::Fixed32
            }
            // 3/4 are proto2 groups (deprecated, unused by this schema), 6/7 do not exist.
            _ => {
                return Err(ProtoError::BadWireType {
                    offset: start,
                    field,
                    wire_type,
                });
            }
        };
        Ok(Some((field, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(buf: &[u8]) -> Result<Vec<(u64, String)>, ProtoError> {
        let mut r = Reader::new(buf);
        let mut out = Vec::new();
        while let Some((f, v)) = r.next_field()? {
            out.push((f, format!("{v:?}")));
        }
        Ok(out)
    }

    #[test]
    fn varints() {
        // Examples from the protobuf encoding guide.
        let mut r = Reader::new(&[0x96, 0x01]);
        assert_eq!(r.varint(), Ok(150));
        let mut r = Reader::new(&[0x01]);
        assert_eq!(r.varint(), Ok(1));
        // -1 as int64: ten bytes, the last one 0x01.
        let mut neg = vec![0xff; 9];
        neg.push(0x01);
        assert_eq!(Reader::new(&neg).varint(), Ok(u64::MAX));
        // Overflowing the 64th bit.
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert_eq!(
            Reader::new(&over).varint(),
            Err(ProtoError::BadVarint { offset: 0 })
        );
        // Eleven bytes.
        let long = vec![0x80; 11];
        assert_eq!(
            Reader::new(&long).varint(),
            Err(ProtoError::BadVarint { offset: 0 })
        );
        assert_eq!(
            Reader::new(&[0x80, 0x80]).varint(),
            Err(ProtoError::Truncated { offset: 0 })
        );
    }

    #[test]
    fn wire_types() {
        // field 1 varint 150; field 2 "testing"; field 3 fixed32; field 4 fixed64.
        let mut buf = vec![0x08, 0x96, 0x01, 0x12, 0x07];
        buf.extend_from_slice(b"testing");
        buf.extend_from_slice(&[0x1d, 1, 2, 3, 4, 0x21, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            fields(&buf).unwrap(),
            vec![
                (1, "Varint(..)".to_owned()),
                (2, "Bytes(<7 bytes>)".to_owned()),
                (3, "Fixed32(..)".to_owned()),
                (4, "Fixed64(..)".to_owned()),
            ]
        );
        assert_eq!(
            fields(&[0x1d, 1, 2]),
            Err(ProtoError::Truncated { offset: 0 })
        );
        assert_eq!(
            fields(&[0x08, 0x01, 0x12, 0x05, b'a']),
            Err(ProtoError::LengthOverflow {
                offset: 3,
                len: 5,
                available: 1
            })
        );
        // Group start (wire type 3) for field 1.
        assert_eq!(
            fields(&[0x0b]),
            Err(ProtoError::BadWireType {
                offset: 0,
                field: 1,
                wire_type: 3
            })
        );
        assert_eq!(
            fields(&[0x00, 0x01]),
            Err(ProtoError::BadFieldNumber { offset: 0 })
        );
        // A length that does not fit in usize on any platform.
        let mut huge = vec![0x12];
        huge.extend_from_slice(&[0xff; 9]);
        huge.push(0x01);
        assert!(matches!(
            fields(&huge),
            Err(ProtoError::LengthOverflow { len: u64::MAX, .. })
        ));
    }

    #[test]
    fn nested_offsets_are_absolute() {
        // field 1 = message { field 2 = truncated varint }
        let buf = [0x08, 0x00, 0x0a, 0x02, 0x10, 0x80];
        let mut r = Reader::new(&buf);
        r.next_field().unwrap();
        let Some((1, Value::Bytes(sub))) = r.next_field().unwrap() else {
            panic!("expected a nested message")
        };
        let mut inner = r.nested(sub);
        assert_eq!(
            inner.next_field().unwrap_err(),
            ProtoError::Truncated { offset: 5 }
        );
    }

    /// Deterministic xorshift so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn walk(buf: &[u8], depth: u32) -> Result<(), ProtoError> {
        let mut r = Reader::new(buf);
        while let Some((_, v)) = r.next_field()? {
            if let (Value::Bytes(sub), true) = (v, depth < 3) {
                let mut inner = r.nested(sub);
                while inner.next_field()?.is_some() {}
                let _ = walk(sub, depth + 1);
            }
        }
        Ok(())
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(0x002f_111a_5eed);
        // Bias towards bytes that make plausible keys and lengths, so the
        // walk gets past the first field often.
        let alphabet = [0x08, 0x0a, 0x10, 0x12, 0x1a, 0x80, 0xff, 0x01, 0x00, 0x05];
        for case in 0..20_000 {
            let len = (rng.next() % 64) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    let r = rng.next();
                    if case % 2 == 0 {
                        alphabet[(r % alphabet.len() as u64) as usize]
                    } else {
                        r as u8
                    }
                })
                .collect();
            let _ = walk(&buf, 0);
        }
    }
}
