//! `Email`: a syntactically valid address of at most 254 characters, trimmed and lower-cased.

use super::text;

/// A valid email address in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// The longest address, in characters (RFC 5321's path limit); the columns hold 320.
    pub const MAX_CHARS: usize = 254;

    /// Parses and normalizes an address.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let lowered = text::trimmed(raw, Self::MAX_CHARS)?.to_lowercase();
        // Lower-casing can lengthen a few letters (İ becomes i̇): the stored form is checked.
        text::at_most(&lowered, Self::MAX_CHARS)?;
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
            "ana\u{0}@example.com",
            "ana@example.com\r\nBcc: eve@example.com",
            "ana@example.com\n",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_email_of_254_characters_is_accepted_and_one_more_is_refused() {
        // Within the 64-character local part and 63-character labels the address syntax allows.
        let address = |last_label: usize| {
            let (b, c, d) = ("b".repeat(63), "c".repeat(63), "d".repeat(last_label));
            format!("{}@{b}.{c}.{d}.com", "a".repeat(64))
        };
        assert_eq!(address(57).chars().count(), 254);
        assert!(Email::parse(&address(57)).is_ok());
        assert!(Email::parse(&address(58)).is_err());
    }
}
