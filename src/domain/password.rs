//! `Password`: a new password of 10 to 1024 characters, without control characters.

use super::text;

/// A password that meets the length rule; never logged.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// The shortest password, in characters.
    pub const MIN_CHARS: usize = 10;
    /// The longest password, in characters (the bound keeps hashing cheap).
    pub const MAX_CHARS: usize = 1024;

    /// Checks 10 to 1024 characters, kept exactly as typed, and no control characters (TAB
    /// included): sign-in forms cannot type them (TAB moves the focus, Enter submits), so such
    /// a password would lock its owner out.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let exact = text::exact(raw, Self::MAX_CHARS)?;
        if exact.chars().count() < Self::MIN_CHARS {
            return Err("must be at least 10 characters".into());
        }
        Ok(Self(exact.to_owned()))
    }

    /// The password.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn passwords_shorter_than_ten_characters_are_refused() {
        assert!(Password::parse("123456789").is_err());
        assert!(Password::parse("1234567890").is_ok());
    }

    #[test]
    fn passwords_longer_than_1024_characters_are_refused() {
        assert!(Password::parse(&"é".repeat(1024)).is_ok());
        assert!(Password::parse(&"é".repeat(1025)).is_err());
    }

    #[test]
    fn passwords_with_control_characters_are_refused() {
        for bad in [
            "correct horse\u{0}",
            "correct\thorse battery",
            "correct horse\n",
        ] {
            assert!(Password::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
