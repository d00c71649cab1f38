//! `Name`: a trimmed, non-empty display name of at most 100 characters.

/// A display name: first or last name, depot, organization or route name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Trims and checks length (1 to 100 characters) and control characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if len == 0 {
            return Err("must not be empty".into());
        }
        if len > 100 {
            return Err("must be at most 100 characters".into());
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
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
        for bad in [
            String::new(),
            "   ".into(),
            "x".repeat(101),
            "a\u{0}b".into(),
        ] {
            assert!(Name::parse(&bad).is_err(), "{bad:?} was accepted");
        }
    }
}
