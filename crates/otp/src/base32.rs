//! RFC 4648 base32, hand-rolled: totp-rs' decoder rejects lowercase, spaces
//! and padding (all common in pasted setup keys) and cannot tell us *which*
//! character was bad. Decoding streams straight from the input so no
//! normalised copy of the secret is ever allocated.

use crate::OtpError;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn value(c: char) -> Option<u32> {
    match c {
        'A'..='Z' => Some(c as u32 - 'A' as u32),
        'a'..='z' => Some(c as u32 - 'a' as u32),
        '2'..='7' => Some(c as u32 - '2' as u32 + 26),
        _ => None,
    }
}

/// Characters users or services insert for readability ("JBSW Y3DP", "jbsw-y3dp")
/// plus `=` padding, which carries no information.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == '-' || c == '='
}

pub(crate) fn decode(s: &str) -> Result<Vec<u8>, OtpError> {
    let mut n = 0usize;
    for c in s.chars().filter(|&c| !is_separator(c)) {
        if value(c).is_none() {
            return Err(OtpError::InvalidBase32Char { ch: c });
        }
        n += 1;
    }
    if n == 0 {
        return Err(OtpError::EmptySecret);
    }
    // 1, 3 or 6 leftover characters cannot come from any byte string:
    // the key was truncated while copying.
    if matches!(n % 8, 1 | 3 | 6) {
        return Err(OtpError::InvalidBase32Length { len: n });
    }

    // Exact capacity: the Vec never reallocates, so no stray copy of the
    // secret is left behind in freed memory.
    let mut out = Vec::with_capacity(n * 5 / 8);
    let mut buf: u32 = 0;
    let mut bits: u32 = 0;
    for v in s.chars().filter_map(value) {
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut buf: u32 = 0;
    let mut bits: u32 = 0;
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
        buf &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 section 10 test vectors (padding stripped).
    const VECTORS: &[(&str, &str)] = &[
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for (plain, b32) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), *b32);
            if !plain.is_empty() {
                assert_eq!(decode(b32).unwrap(), plain.as_bytes());
            }
        }
    }

    #[test]
    fn padded_vectors_decode() {
        assert_eq!(decode("MZXW6YQ=").unwrap(), b"foob");
        assert_eq!(decode("MY======").unwrap(), b"f");
    }

    #[test]
    fn round_trip_all_lengths() {
        for len in 1..70u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
            assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn rejects_impossible_lengths() {
        assert_eq!(
            decode("A").unwrap_err(),
            OtpError::InvalidBase32Length { len: 1 }
        );
        assert_eq!(
            decode("ABC").unwrap_err(),
            OtpError::InvalidBase32Length { len: 3 }
        );
        assert_eq!(
            decode("ABCDEF").unwrap_err(),
            OtpError::InvalidBase32Length { len: 6 }
        );
    }

    #[test]
    fn names_first_bad_char() {
        assert_eq!(
            decode("AB0CD1").unwrap_err(),
            OtpError::InvalidBase32Char { ch: '0' }
        );
        assert_eq!(decode(" - = ").unwrap_err(), OtpError::EmptySecret);
    }
}
