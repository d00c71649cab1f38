//! `Name`: a trimmed, non-empty display name of at most 100 characters.

use super::text;

/// A display name: first or last name, depot, organization or route name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// The longest name, in characters; the `varchar(100)` columns hold it.
    pub const MAX_CHARS: usize = 100;

    /// Trims and checks length (1 to 100 characters) and control characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = text::trimmed(raw, Self::MAX_CHARS)?;
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Name;

    #[test]
    fn names_of_one_to_one_hundred_characters_are_accepted() {
        assert!(Name::parse("A").is_ok());
        assert!(Name::parse(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn empty_blank_and_overlong_names_are_refused() {
        for bad in [String::new(), "   ".into(), "x".repeat(101)] {
            assert!(Name::parse(&bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn names_with_control_characters_are_refused_even_at_the_ends() {
        for bad in [
            "a\u{0}b",
            "Ada\n",
            "\rAda",
            "A\u{7f}",
            "A\u{1b}[31m",
            "A\tB",
        ] {
            assert!(Name::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
