//! `Phone`: an international phone number checked against the numbering plans and kept in
//! E.164 form.

use phonenumber::{Mode, ParseError};

use super::text;

/// A number valid in its country's numbering plan, as `+` and its digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// The longest E.164 number: `+` and 15 digits.
    pub const MAX_CHARS: usize = 16;
    /// The longest input: digits grouped by spaces, dashes or parentheses.
    pub const MAX_INPUT_CHARS: usize = 32;

    /// Parses an international number (`+` and the country code first); spaces, dashes and
    /// parentheses between the digits are accepted and dropped.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = text::trimmed(raw, Self::MAX_INPUT_CHARS)?;
        let digits = raw.strip_prefix('+').ok_or_else(not_international)?;
        // Only digits and separators: the plan library would also read letters as a keypad's.
        if !digits.starts_with(|c: char| c.is_ascii_digit())
            || !digits
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'))
        {
            return Err(not_international());
        }
        let number = phonenumber::parse(None, raw).map_err(|e| match e {
            ParseError::InvalidCountryCode => "has no assigned country code".to_owned(),
            _ => not_valid(),
        })?;
        if !phonenumber::is_valid(&number) {
            return Err(not_valid());
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        text::at_most(&e164, Self::MAX_CHARS)?;
        Ok(Self(e164))
    }

    /// The number in E.164 form.
    pub fn into_inner(self) -> String {
        self.0
    }
}

fn not_international() -> String {
    "must be an international number: + and the country code first, e.g. +49 151 12345678".into()
}

fn not_valid() -> String {
    "is not a valid number in its country's numbering plan".into()
}

#[cfg(test)]
mod tests {
    use super::Phone;

    fn e164(raw: &str) -> Result<String, String> {
        Phone::parse(raw).map(Phone::into_inner)
    }

    #[test]
    fn e164_numbers_are_accepted_as_they_are() {
        for number in [
            "+4915112345678",
            "+14155552671",
            "+33123456789",
            "+4930123456",
        ] {
            assert_eq!(e164(number).as_deref(), Ok(number));
        }
    }

    #[test]
    fn spaces_dashes_and_parentheses_are_dropped() {
        for raw in [
            "+49 151 12345678",
            "+49-151-1234-5678",
            " +49 (151) 123 456 78 ",
        ] {
            assert_eq!(e164(raw).as_deref(), Ok("+4915112345678"), "{raw:?}");
        }
    }

    #[test]
    fn an_unassigned_country_code_is_refused_as_such() {
        let error = e164("+999 1234 5678").expect_err("refused");
        assert!(error.contains("country code"), "{error}");
    }

    #[test]
    fn numbers_outside_their_numbering_plan_are_refused() {
        for bad in ["+49 151 123", "+1 415 555", "+33 1", "+4915112345678901234"] {
            assert!(e164(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn national_numbers_letters_and_control_characters_are_refused() {
        for bad in [
            "",
            "4915112345678",
            "030 1234567",
            "+0151",
            "+49abc",
            "+1 800 FLOWERS",
            "++4915112345678",
            "+4915112345678\n",
            "+49151\u{0}",
            "+49 151 1234 5678 9999 9999 9999 99",
        ] {
            assert!(e164(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
