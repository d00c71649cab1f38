//! `Currency`: an ISO 4217 currency that money is counted in, stored as its upper-case code.

use super::text;

/// An ISO 4217 currency: not a fund code, a precious metal, a test code or "no currency".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Accepts a code in any case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let upper = text::trimmed(raw, 3)?.to_ascii_uppercase();
        match iso_currency::Currency::from_code(&upper) {
            Some(currency) if !currency.is_fund() && !currency.is_special() => Ok(Self(currency)),
            Some(_) => Err("is an ISO 4217 fund or special code, not a currency".into()),
            None => Err("is not an ISO 4217 currency code, e.g. EUR".into()),
        }
    }

    /// Digits after the decimal point in amounts (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn minor_units(self) -> u16 {
        // Only special codes (gold, SDR, …) have no minor unit, and `parse` refuses them.
        self.0.exponent().unwrap_or(0)
    }

    /// The upper-case code.
    pub fn into_inner(self) -> String {
        self.0.code().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::Currency;

    #[test]
    fn currency_codes_are_accepted_in_any_case_and_kept_upper_case() {
        assert_eq!(
            Currency::parse("eur").map(Currency::into_inner),
            Ok("EUR".into())
        );
    }

    #[test]
    fn unknown_currency_codes_are_refused() {
        for bad in ["", "EU", "EURO", "ABC", "€", "EUR\n", "E\u{0}R"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn funds_metals_test_codes_and_no_currency_are_refused() {
        for code in [
            "XXX", "XAU", "XAG", "XTS", "XDR", "CHE", "BOV", "USN", "CLF",
        ] {
            let error = Currency::parse(code).expect_err(code);
            assert!(error.contains("fund or special"), "{code}: {error}");
        }
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        for (code, units) in [("EUR", 2), ("JPY", 0), ("KWD", 3), ("CHF", 2)] {
            assert_eq!(Currency::parse(code).map(Currency::minor_units), Ok(units));
        }
    }
}
