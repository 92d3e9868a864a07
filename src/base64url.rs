//! base64url without padding (RFC 4648 §5) for public bytes: the envelope's
//! text form, which carries a share's whole ciphertext (11 KB for 8 KiB) to
//! and from JSON. Table lookups, so variable-time: never use it for keys
//! (`BackupKey` uses base64ct, which is constant-time). Exactly as strict as
//! base64ct's `Base64UrlUnpadded`: no padding, no whitespace, no unused bits
//! set, so each byte string has one text form (tests compare the two).

use alloc::{string::String, vec::Vec};

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

    /// Every one of the 192 bytes outside the alphabet, in every position of
    /// a last group of 2 or 3 characters (after a full group), is refused;
    /// the sample above tries only a few of them.
    #[test]
    fn no_byte_outside_the_alphabet_is_accepted_in_the_last_group() {
        for tail in ["AA", "AAA"] {
            for at in 4..4 + tail.len() {
                for byte in (0..=255u8).filter(|b| !ALPHABET.contains(b)) {
                    let mut text = ["AAAA", tail].concat().into_bytes();
                    text[at] = byte;
                    assert_eq!(decode(&text), None, "{:?}", String::from_utf8_lossy(&text));
                }
            }
        }
    }
}

/// Property tests (proptest): 10,000 cases each, `PROPTEST_CASES=N` for more
/// (docs/RELIABILITY.md §3).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};
    // 10,000 cases, XorShift, as every property here (tests/common-props).
    use common_props::{config, matching, near_base64url};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// A way of writing the same bytes that `encode` never produces.
    #[derive(Debug, Clone)]
    enum NonCanonical {
        /// `=` padding, as standard base64 writes it.
        Padding(usize),
        /// `+` or `/` (the standard alphabet) or another byte in place of a character.
        ForeignCharacter(Index, u8),
        /// Whitespace or a line break anywhere, as a mail client or a pretty-printer adds.
        Whitespace(Index, u8),
        /// Unused low bits of the last character set: decodes to the same bytes.
        TrailingBits(u8),
    }

    /// Near-base64url (padding, `+` `/`, whitespace) or any printable text.
    fn near_base64url_text() -> impl Strategy<Value = String> {
        prop_oneof![4 => near_base64url(64), 1 => matching("\\PC{0,16}")]
    }

    fn non_canonical() -> impl Strategy<Value = NonCanonical> {
        let foreign = prop::sample::select((0..=255u8).filter(|b| DECODE[usize::from(*b)] == INVALID).collect::<Vec<_>>());
        prop_oneof![
            (1..=2usize).prop_map(NonCanonical::Padding),
            (any::<Index>(), prop_oneof![Just(b'+'), Just(b'/'), foreign]).prop_map(|(at, b)| NonCanonical::ForeignCharacter(at, b)),
            (any::<Index>(), prop::sample::select(b" \t\r\n".to_vec())).prop_map(|(at, b)| NonCanonical::Whitespace(at, b)),
            (1..=15u8).prop_map(NonCanonical::TrailingBits),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        /// Any bytes come back from their text, and the text is base64ct's.
        #[test]
        fn decode_of_encode_gives_the_bytes_back(bytes in vec(any::<u8>(), 0..=600)) {
            let text = encode(&bytes);
            prop_assert_eq!(&text, &Base64UrlUnpadded::encode_string(&bytes));
            prop_assert_eq!(decode(text.as_bytes()), Some(bytes));
        }

        /// Each byte string has one text: whatever is accepted is exactly the
        /// encoding of what it decodes to (near-base64url noise included).
        #[test]
        fn only_canonical_text_is_accepted(text in near_base64url_text()) {
            if let Some(bytes) = decode(text.as_bytes()) {
                prop_assert_eq!(encode(&bytes), text);
            }
        }

        /// Padding, a foreign character, whitespace or set unused bits in
        /// any valid text: refused, never read as some other bytes.
        #[test]
        fn non_canonical_text_is_refused(bytes in vec(any::<u8>(), 0..=96), change in non_canonical()) {
            let mut bytes = bytes;
            // Room for the change: a character to replace, unused bits to set.
            match change {
                NonCanonical::ForeignCharacter(..) if bytes.is_empty() => bytes.push(0),
                NonCanonical::TrailingBits(_) if bytes.len() % 3 == 0 => bytes.push(0),
                _ => {}
            }
            let mut text = encode(&bytes).into_bytes();
            match change {
                NonCanonical::Padding(n) => text.extend(core::iter::repeat_n(b'=', n)),
                NonCanonical::ForeignCharacter(at, b) => {
                    let at = at.index(text.len());
                    text[at] = b;
                }
                NonCanonical::Whitespace(at, b) => text.insert(at.index(text.len() + 1), b),
                NonCanonical::TrailingBits(bits) => {
                    // 1 byte left over: 4 unused bits; 2 bytes: 2 unused bits.
                    let unused_mask = if bytes.len() % 3 == 1 { 0x0f } else { 0x03 };
                    let last = text.len() - 1;
                    let value = DECODE[usize::from(text[last])] | (bits & unused_mask).max(1);
                    text[last] = ALPHABET[usize::from(value)];
                }
            }
            prop_assert_eq!(decode(&text), None, "{:?}", String::from_utf8_lossy(&text));
        }
    }
}
