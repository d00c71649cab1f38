//! Free text from clients: no control characters and a maximum length in characters.

/// `Err` naming the first control character in `raw`, if there is one.
///
/// Refused are the Unicode control characters (general category Cc): the C0 set
/// U+0000–U+001F (NUL, TAB, LF, CR, ESC, …), DEL U+007F and the C1 set U+0080–U+009F.
/// None of them has a place in a name, an address, an email, a search or a password: they
/// are invisible in the dashboard, break CSV exports and mail headers, and PostgreSQL
/// refuses NUL in text outright. TAB is refused too; the one input that takes it is the CSV
/// delimiter, whose allow-list ([`super::CsvDelimiter`]) names it as a whole value.
pub fn refuse_controls(raw: &str) -> Result<(), String> {
    match raw.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "must not contain control characters (found U+{:04X})",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// `Err` when `text` has more than `max` characters (not bytes: "é" counts once, as the
/// dashboard and PostgreSQL's `varchar(n)` count it).
pub fn at_most(text: &str, max: usize) -> Result<(), String> {
    if text.chars().nth(max).is_some() {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(())
    }
}

/// `raw` as sent, when it has no control character and at most `max` characters; for values
/// compared or hashed exactly (passwords, tokens, exact-name searches, zone names).
pub fn exact(raw: &str, max: usize) -> Result<&str, String> {
    refuse_controls(raw)?;
    at_most(raw, max)?;
    Ok(raw)
}

/// `raw` without surrounding spaces, when `raw` has no control character (also not at its
/// ends: a trailing newline is refused, not silently dropped) and the trimmed text has at
/// most `max` characters.
pub fn trimmed(raw: &str, max: usize) -> Result<&str, String> {
    refuse_controls(raw)?;
    let trimmed = raw.trim();
    at_most(trimmed, max)?;
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::{at_most, exact, trimmed};

    #[test]
    fn every_c0_control_del_and_c1_control_is_refused() {
        let controls = (0u32..=0x1F).chain(0x7F..=0x9F).filter_map(char::from_u32);
        for c in controls {
            let text = format!("a{c}b");
            assert!(
                exact(&text, 10).is_err(),
                "U+{:04X} was accepted",
                u32::from(c)
            );
            assert!(
                trimmed(&text, 10).is_err(),
                "U+{:04X} was accepted",
                u32::from(c)
            );
        }
    }

    #[test]
    fn a_control_at_either_end_is_refused_not_trimmed_away() {
        for text in ["Ada\n", "\r\nAda", "\tAda", "Ada\u{0}"] {
            assert!(trimmed(text, 10).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn the_refusal_names_the_character_but_not_the_text() {
        let err = exact("secret\u{1b}[2J", 100).err().unwrap_or_default();
        assert!(err.contains("U+001B"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn printable_unicode_and_spaces_inside_are_accepted() {
        assert_eq!(exact("Zoë Łódź 東京 ✓", 20), Ok("Zoë Łódź 東京 ✓"));
        assert_eq!(trimmed("  Rue de la Paix 1  ", 20), Ok("Rue de la Paix 1"));
    }

    #[test]
    fn length_is_counted_in_characters_up_to_the_cap() {
        assert!(at_most(&"é".repeat(200), 200).is_ok());
        assert!(at_most(&"é".repeat(201), 200).is_err());
        assert!(at_most("", 0).is_ok());
    }

    #[test]
    fn the_cap_applies_to_the_trimmed_text() {
        let padded = format!("  {}  ", "x".repeat(5));
        assert_eq!(trimmed(&padded, 5), Ok("xxxxx"));
        assert!(trimmed(&"x".repeat(6), 5).is_err());
    }

    #[test]
    fn fifty_thousand_bytes_are_refused_with_a_message() {
        let err = trimmed(&"x".repeat(50_000), 200).err().unwrap_or_default();
        assert_eq!(err, "must be at most 200 characters");
    }
}
