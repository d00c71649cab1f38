//! `Address`: a depot's postal address on one line, trimmed, at most 500 characters.

use super::text;

/// A depot address; never blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    /// The longest address, in characters; the `varchar(500)` column holds it.
    pub const MAX_CHARS: usize = 500;

    /// `None` for blank text, which means no address. One line: the dashboard, routes and
    /// exports show it on one, so CR and LF are refused like every other control character.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let trimmed = text::trimmed(raw, Self::MAX_CHARS)?;
        Ok((!trimmed.is_empty()).then(|| Self(trimmed.to_owned())))
    }

    /// The address.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Address;

    #[test]
    fn an_address_is_trimmed_and_a_blank_one_is_none() {
        assert_eq!(
            Address::parse(" Hafenstraße 1, 20457 Hamburg ").map(|a| a.map(Address::into_inner)),
            Ok(Some("Hafenstraße 1, 20457 Hamburg".into()))
        );
        assert_eq!(Address::parse(""), Ok(None));
    }

    #[test]
    fn an_address_of_500_characters_is_accepted_and_501_refused() {
        assert!(Address::parse(&"ä".repeat(500)).is_ok());
        assert!(Address::parse(&"ä".repeat(501)).is_err());
    }

    #[test]
    fn an_address_on_several_lines_or_with_other_controls_is_refused() {
        for bad in [
            "Hafenstraße 1\r\nHamburg",
            "Hafen\u{0}straße",
            "Hafen\u{1b}",
            "\u{85}",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
