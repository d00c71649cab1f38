//! `Phone`: a phone number in E.164 form (at most 16 characters).

use super::text;

/// `+` then 2 to 15 digits, the first not zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// The longest number: `+` and 15 digits.
    pub const MAX_CHARS: usize = 16;

    /// Parses an E.164 number; spaces are not allowed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        text::exact(raw, Self::MAX_CHARS)?;
        let digits = raw.strip_prefix('+').unwrap_or("");
        let valid = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be in E.164 form, e.g. +4915112345678".into())
        }
    }

    /// The number.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Phone;

    #[test]
    fn e164_numbers_are_accepted() {
        assert!(Phone::parse("+4915112345678").is_ok());
    }

    #[test]
    fn numbers_not_in_e164_are_refused() {
        for bad in [
            "",
            "4915112345678",
            "+0151",
            "+49 151 123",
            "+1234567890123456",
            "+49-151",
            "+4915112345678\n",
            "+49151\u{0}",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
