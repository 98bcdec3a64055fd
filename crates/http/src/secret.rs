//! Token secrets: how a new one is made and the hash it is stored and
//! looked up by. A leaf, shared by API tokens, sessions and webhooks.

use sha2::{Digest, Sha256};

/// The hash a token is stored and looked up by (hex SHA-256). Tokens are
/// long random strings, so a fast hash is enough.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random token secret: 32 bytes from the operating system, as 64 hex
/// characters.
pub fn new_token_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(hex::encode(bytes))
}
