//! `Search`: the search text of a list filter, trimmed, at most 200 characters.

use super::text;

/// What a user or driver list is searched for; never blank.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Search(String);

impl Search {
    /// The longest search, in characters: longer than any name or email it could match, and
    /// far below SQLite's 50,000-byte limit on `LIKE` patterns.
    pub const MAX_CHARS: usize = 200;

    /// `None` for blank text, which filters nothing.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let trimmed = text::trimmed(raw, Self::MAX_CHARS)?;
        Ok((!trimmed.is_empty()).then(|| Self(trimmed.to_owned())))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Search;

    #[test]
    fn a_search_is_trimmed_and_a_blank_one_filters_nothing() {
        assert_eq!(
            Search::parse("  zora ").map(|s| s.map(|s| s.0)),
            Ok(Some("zora".into()))
        );
        assert_eq!(Search::parse("   "), Ok(None));
    }

    #[test]
    fn a_search_of_200_characters_is_accepted_and_201_refused() {
        assert!(Search::parse(&"ß".repeat(200)).is_ok());
        assert!(Search::parse(&"ß".repeat(201)).is_err());
        assert!(Search::parse(&"x".repeat(50_000)).is_err());
    }

    #[test]
    fn a_search_with_control_characters_is_refused() {
        for bad in ["zo\u{0}ra", "zora\n", "\u{1b}zora", "zo\u{7f}ra"] {
            assert!(Search::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
