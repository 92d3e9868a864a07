//! base64url without padding (RFC 4648 §5) for public bytes: the envelope's
//! text form, which carries a share's whole ciphertext (11 KB for 8 KiB) to
//! and from JSON. Table lookups, so variable-time: never use it for keys
//! (`BackupKey` uses base64ct, which is constant-time). Exactly as strict as
//! base64ct's `Base64UrlUnpadded`: no padding, no whitespace, no unused bits
//! set, so each byte string has one text form (tests compare the two).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Not a base64url character: the two high bits are set, which no 6-bit value has.
const INVALID: u8 = 0xff;
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

pub fn encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    let mut chunks = bytes.chunks_exact(3);
    let char_at = |n: u32, shift: u32| ALPHABET[(n >> shift) as usize & 63];
    for chunk in &mut chunks {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        out.extend_from_slice(&[char_at(n, 18), char_at(n, 12), char_at(n, 6), char_at(n, 0)]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[char_at(n, 18), char_at(n, 12)]);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[char_at(n, 18), char_at(n, 12), char_at(n, 6)]);
        }
        _ => {}
    }
    // Only ALPHABET bytes were written, so this never fails.
    String::from_utf8(out).unwrap_or_default()
}

/// `None` for anything `encode` would not have produced.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let mut chunks = text.chunks_exact(4);
    let value = |c: u8| u32::from(DECODE[usize::from(c)]);
    for chunk in &mut chunks {
        let (a, b, c, d) = (value(chunk[0]), value(chunk[1]), value(chunk[2]), value(chunk[3]));
        if (a | b | c | d) > 63 {
            return None;
        }
        let n = a << 18 | b << 12 | c << 6 | d;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    match *chunks.remainder() {
        [a, b] => {
            let (a, b) = (value(a), value(b));
            // The unused low 4 bits of the last character must be zero.
            if (a | b) > 63 || b & 0x0f != 0 {
                return None;
            }
            out.push((a << 2 | b >> 4) as u8);
        }
        [a, b, c] => {
            let (a, b, c) = (value(a), value(b), value(c));
            if (a | b | c) > 63 || c & 0x03 != 0 {
                return None;
            }
            let n = a << 18 | b << 12 | c << 6;
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]);
        }
        _ => {}
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};

    #[test]
    fn encodes_like_base64ct() {
        let bytes: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(151) ^ (i >> 3)) as u8).collect();
        for len in 0..bytes.len() {
            let text = encode(&bytes[..len]);
            assert_eq!(text, Base64UrlUnpadded::encode_string(&bytes[..len]), "length {len}");
            assert_eq!(decode(text.as_bytes()).as_deref(), Some(&bytes[..len]), "length {len}");
        }
    }

    /// Every text up to 5 characters over a mix of valid, padding, standard
    /// base64, whitespace and non-ASCII bytes: accepted exactly when
    /// base64ct accepts it, with the same bytes.
    #[test]
    fn accepts_and_refuses_exactly_what_base64ct_does() {
        const SAMPLE: &[u8] = b"AQgw_-=+/ z\xc3";
        let mut text = Vec::new();
        for len in 0..=5u32 {
            for index in 0..SAMPLE.len().pow(len) {
                text.clear();
                let mut rest = index;
                for _ in 0..len {
                    text.push(SAMPLE[rest % SAMPLE.len()]);
                    rest /= SAMPLE.len();
                }
                let expected = core::str::from_utf8(&text).ok().and_then(|t| Base64UrlUnpadded::decode_vec(t).ok());
                assert_eq!(decode(&text), expected, "{:?}", String::from_utf8_lossy(&text));
            }
        }
    }
}
