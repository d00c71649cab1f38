//! `Password`: a new password of at least 10 characters.

/// A password that meets the length rule; never logged.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Checks 10 to 1024 characters (the upper bound keeps hashing cheap).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if len < 10 {
            return Err("must be at least 10 characters".into());
        }
        if len > 1024 {
            return Err("must be at most 1024 characters".into());
        }
        Ok(Self(raw.to_owned()))
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
}
