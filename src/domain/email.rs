//! `Email`: a syntactically valid address, trimmed and lower-cased.

/// A valid email address in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and normalizes an address.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let lowered = raw.trim().to_lowercase();
        if lowered.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        match email_address::EmailAddress::parse_with_options(
            &lowered,
            email_address::Options::default().without_display_text(),
        ) {
            Ok(_)
                if lowered.contains('@')
                    && !lowered.ends_with('@')
                    && lowered
                        .split('@')
                        .nth(1)
                        .is_some_and(|d| d.contains('.') || d == "localhost") =>
            {
                Ok(Self(lowered))
            }
            _ => Err("is not a valid email address".into()),
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn an_email_is_lower_cased_and_trimmed() {
        assert_eq!(
            Email::parse("  Ana@Example.COM ").map(|e| e.0),
            Ok("ana@example.com".into())
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@@example.com",
            "ana example@x.com",
            "ana@example",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
