//! `Currency`: an active ISO 4217 code, stored upper-case.

use super::text;

/// Active ISO 4217 alphabetic codes.
const CODES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD \
CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD \
HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD \
MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD \
SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES \
VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG";

/// An ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    /// Accepts a code in any case; keeps it upper-case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let upper = text::trimmed(raw, 3)?.to_ascii_uppercase();
        if upper.len() == 3 && CODES.split_ascii_whitespace().any(|c| c == upper) {
            Ok(Self(upper))
        } else {
            Err("is not an ISO 4217 currency code, e.g. EUR".into())
        }
    }

    /// The code.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Currency;

    #[test]
    fn currency_codes_are_accepted_in_any_case_and_kept_upper_case() {
        assert_eq!(Currency::parse("eur").map(|c| c.0), Ok("EUR".into()));
    }

    #[test]
    fn unknown_currency_codes_are_refused() {
        for bad in ["", "EU", "EURO", "ABC", "€", "EUR\n", "E\u{0}R"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
