//! `OpaqueToken`: an invitation, password-reset or refresh token as a client presents it.

use super::text;

/// A token that may be one of ours: not too long, no control characters. Whether it is live
/// is for the database to say; a token that fails here is answered like any unknown token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueToken<'a>(&'a str);

impl<'a> OpaqueToken<'a> {
    /// Ours have 43 characters (32 random bytes in base64url); the cap leaves room to grow.
    pub const MAX_CHARS: usize = 128;

    /// Checks the shape only; the caller answers its own invalid-token error on `Err`.
    pub fn parse(raw: &'a str) -> Result<Self, String> {
        text::exact(raw, Self::MAX_CHARS).map(Self)
    }

    /// The token as presented.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::OpaqueToken;

    #[test]
    fn a_token_of_ours_passes() {
        let ours = crate::auth::token::generate();
        assert_eq!(
            OpaqueToken::parse(&ours).map(|t| t.as_str()),
            Ok(ours.as_str())
        );
    }

    #[test]
    fn a_token_with_control_characters_or_too_long_fails() {
        for bad in ["abc\u{0}", "abc\r\n", "\u{1b}abc", &"a".repeat(129)] {
            assert!(OpaqueToken::parse(bad).is_err(), "{bad:?} passed");
        }
    }
}
