//! Personal settings values: `Timezone` (IANA) and `CsvDelimiter`.

use super::text;

/// An IANA time zone name, e.g. `Europe/Berlin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timezone(String);

impl Timezone {
    /// The longest name accepted, in characters; the `varchar(64)` columns hold it, and the
    /// longest IANA name has 32.
    pub const MAX_CHARS: usize = 64;

    /// Accepts names known to the IANA database.
    pub fn parse(raw: &str) -> Result<Self, String> {
        text::exact(raw, Self::MAX_CHARS)?
            .parse::<chrono_tz::Tz>()
            .map(|tz| Self(tz.name().to_owned()))
            .map_err(|_| "is not an IANA time zone name, e.g. Europe/Berlin".into())
    }

    /// The zone name.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The CSV export delimiter: `,` `;` `|` or TAB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvDelimiter(String);

impl CsvDelimiter {
    /// Accepts exactly one of the four delimiters. TAB is the one control character any input
    /// takes, and only here, as the whole value: the allow-list refuses every other one.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "," | ";" | "|" | "\t" => Ok(Self(raw.to_owned())),
            _ => Err("must be one of , ; | or TAB".into()),
        }
    }

    /// The delimiter.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::{CsvDelimiter, Timezone};

    #[test]
    fn iana_zone_names_are_accepted_and_others_refused() {
        assert!(Timezone::parse("Europe/Berlin").is_ok());
        assert!(Timezone::parse("UTC").is_ok());
        assert!(Timezone::parse("Mars/Olympus").is_err());
        assert!(Timezone::parse("").is_err());
        assert!(Timezone::parse("Europe/Berlin\n").is_err());
        assert!(Timezone::parse("Europe/\u{0}Berlin").is_err());
        assert!(Timezone::parse(&"x".repeat(50_000)).is_err());
    }

    #[test]
    fn only_the_four_delimiters_are_accepted() {
        for ok in [",", ";", "|", "\t"] {
            assert!(CsvDelimiter::parse(ok).is_ok());
        }
        for bad in ["", ":", ",,", " ", "\u{0}", "\n", "\r", "\u{1b}", "\t\t"] {
            assert!(CsvDelimiter::parse(bad).is_err());
        }
    }
}
