//! How much randomness a token chosen outside Foredeck (the bootstrap
//! token) has, estimated conservatively. API tokens are stored as an
//! unsalted SHA-256, which keeps the lookup on every request cheap; that is
//! safe only for tokens nobody can guess, so a chosen token must look like
//! the output of a random generator: hex, or base64-like text that mixes
//! letter cases the way random text does. Human-chosen text (words,
//! CamelCase, sequences, repeats) gets little or no credit.

/// The randomness a bootstrap token must have.
pub const REQUIRED_BITS: f64 = 128.0;
/// Longest token looked at (longer ones are refused as such).
const MAX_LEN: usize = 1024;
/// A repeated substring of this length or more earns no credit.
const REPEAT: usize = 4;

/// Estimated bits of randomness of `token`.
pub fn estimated_bits(token: &str) -> f64 {
    if token.len() > MAX_LEN || !token.is_ascii() {
        return 0.0;
    }
    let chars: Vec<u8> = token.trim_end_matches('=').bytes().collect();
    if chars.is_empty() || chars.iter().any(|c| !c.is_ascii_graphic()) {
        return 0.0;
    }
    let mut credited: Vec<bool> = patterned(&chars).into_iter().map(|p| !p).collect();
    let lower = chars.iter().any(u8::is_ascii_lowercase);
    let upper = chars.iter().any(u8::is_ascii_uppercase);
    let per_char = if chars.iter().all(u8::is_ascii_hexdigit) && !(lower && upper) {
        4.0
    } else {
        wordlike(&chars, &mut credited);
        let base64 = chars
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+/-_".contains(c));
        if base64 {
            6.0
        } else {
            94f64.log2()
        }
    };
    credited.iter().filter(|c| **c).count() as f64 * per_char
}

/// Takes the credit away from what people type rather than draw: letters
/// past the second of a word (a run of one case, or a capital and a
/// lower-case run: random text rarely has long ones) and separators used
/// before (`-` between words).
fn wordlike(chars: &[u8], credited: &mut [bool]) {
    let mut run = 0;
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphabetic() {
            run = 0;
            if !c.is_ascii_digit() && chars[..i].contains(&c) {
                credited[i] = false;
            }
            continue;
        }
        let continues = i > 0
            && chars[i - 1].is_ascii_alphabetic()
            && (c.is_ascii_lowercase() || chars[i - 1].is_ascii_uppercase());
        run = if continues { run + 1 } else { 1 };
        if run > 2 {
            credited[i] = false;
        }
    }
}

/// Which characters follow a pattern and earn no credit: the third and
/// later of a run that repeats a character or steps by one (`aaa`, `123`,
/// `cba`), and every character of a substring of four or more seen before.
fn patterned(chars: &[u8]) -> Vec<bool> {
    let mut out = vec![false; chars.len()];
    for i in 2..chars.len() {
        let d1 = i16::from(chars[i]) - i16::from(chars[i - 1]);
        let d2 = i16::from(chars[i - 1]) - i16::from(chars[i - 2]);
        if d1 == d2 && d1.abs() <= 1 {
            out[i] = true;
        }
    }
    for i in 1..chars.len().saturating_sub(REPEAT - 1) {
        let gram = &chars[i..i + REPEAT];
        if chars[..i + REPEAT - 1].windows(REPEAT).any(|w| w == gram) {
            for p in &mut out[i..i + REPEAT] {
                *p = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_pass_and_chosen_ones_do_not() {
        let strong = [
            // openssl rand -hex 32
            "9f3c1a7be2d84c05a6f1e0b97d2c4e8813a5f7c9b0d2e4f6a8c1e3b5d7f90a2c",
            // openssl rand -base64 32
            "q8Zt3Xw1LmP0sVb7RkYc2NfJ9hGd4TuEa6oQyWx5iKM=",
            // a password manager's 32 printable characters
            "p7#Vq2!xLm9&Rt4@Wb8$Kc3^Zn6*Hd1%",
        ];
        for t in strong {
            let bits = estimated_bits(t);
            assert!(bits >= REQUIRED_BITS, "{t}: {bits}");
        }
        let weak = [
            "bootstrap-token-for-automation-0123456789",
            "correct horse battery staple correct horse",
            "MyBootstrapTokenForAutomation2024Production",
            "The-Quick-Brown-Fox-Jumps-Over-The-Lazy-Dog-42",
            "Correct-Horse-Battery-Staple-2024!",
            "0123456789abcdef0123456789abcdef0123456789abcdef",
            "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            // 64 bits of hex
            "9f3c1a7be2d84c05",
            "",
        ];
        for t in weak {
            let bits = estimated_bits(t);
            assert!(bits < REQUIRED_BITS, "{t}: {bits}");
        }
        assert_eq!(estimated_bits(&"9f3c".repeat(400)), 0.0);
    }
}
