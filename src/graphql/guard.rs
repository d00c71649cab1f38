//! The guard in front of the parser: one linear pass over a document that refuses nesting
//! and token counts above their bounds before anything recursive (the parser, validation,
//! dropping the syntax tree) sees the text.
//!
//! The parser recurses once per level of `[`, `{` and `(`; a few kilobytes of brackets would
//! overflow the stack and abort the process. This scan is iterative, allocates nothing, and
//! understands just enough of the GraphQL lexical grammar to skip strings, block strings and
//! comments, where brackets are only text.

/// What a document may contain before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Deepest nesting of `[`, `{` and `(` combined.
    pub nesting: usize,
    /// Most lexical tokens (names, numbers, strings, punctuators).
    pub tokens: usize,
}

/// Why a document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Nested deeper than [`Bounds::nesting`].
    Nesting(usize),
    /// More tokens than [`Bounds::tokens`].
    Tokens(usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nesting(max) => write!(f, "the document is nested deeper than {max} levels"),
            Self::Tokens(max) => write!(f, "the document has more than {max} tokens"),
        }
    }
}

/// Scans `document`; `Err` as soon as a bound is passed.
pub fn check(document: &str, bounds: Bounds) -> Result<(), Refusal> {
    let mut scan = Scan {
        bytes: document.as_bytes(),
        at: 0,
        depth: 0,
        tokens: 0,
        bounds,
    };
    scan.run()
}

struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    tokens: usize,
    bounds: Bounds,
}

impl Scan<'_> {
    fn run(&mut self) -> Result<(), Refusal> {
        while let Some(&byte) = self.bytes.get(self.at) {
            match byte {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => self.at += 1,
                b'#' => self.skip_comment(),
                b'"' => {
                    self.token()?;
                    self.skip_string();
                }
                b'[' | b'{' | b'(' => {
                    self.token()?;
                    self.depth += 1;
                    if self.depth > self.bounds.nesting {
                        return Err(Refusal::Nesting(self.bounds.nesting));
                    }
                    self.at += 1;
                }
                b']' | b'}' | b')' => {
                    self.token()?;
                    self.depth = self.depth.saturating_sub(1);
                    self.at += 1;
                }
                b'.' if self.bytes[self.at..].starts_with(b"...") => {
                    self.token()?;
                    self.at += 3;
                }
                b if is_word(b) => {
                    self.token()?;
                    // `.` continues a number (`1.5`); it never starts a word.
                    while self
                        .bytes
                        .get(self.at)
                        .copied()
                        .is_some_and(|b| is_word(b) || b == b'.')
                    {
                        self.at += 1;
                    }
                }
                // Punctuators and anything the parser will refuse: one token each.
                _ => {
                    self.token()?;
                    self.at += 1;
                }
            }
        }
        Ok(())
    }

    fn token(&mut self) -> Result<(), Refusal> {
        self.tokens += 1;
        if self.tokens > self.bounds.tokens {
            return Err(Refusal::Tokens(self.bounds.tokens));
        }
        Ok(())
    }

    fn skip_comment(&mut self) {
        while let Some(&b) = self.bytes.get(self.at) {
            if b == b'\n' || b == b'\r' {
                return;
            }
            self.at += 1;
        }
    }

    /// Skips a string or block string starting at the current `"`.
    fn skip_string(&mut self) {
        if self.bytes[self.at..].starts_with(b"\"\"\"") {
            self.at += 3;
            while self.at < self.bytes.len() {
                let rest = &self.bytes[self.at..];
                if rest.starts_with(b"\\\"\"\"") {
                    self.at += 4;
                } else if rest.starts_with(b"\"\"\"") {
                    self.at += 3;
                    return;
                } else {
                    self.at += 1;
                }
            }
            return;
        }
        self.at += 1;
        while let Some(&b) = self.bytes.get(self.at) {
            match b {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return;
                }
                // A line break ends an unterminated string; the parser reports it.
                b'\n' | b'\r' => return,
                _ => self.at += 1,
            }
        }
    }
}

/// Bytes of names and numbers (`-`, `+` and `.` appear in numbers like `-1.5e+3`).
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+') || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        nesting: 4,
        tokens: 20,
    };

    #[test]
    fn nesting_at_the_bound_passes_and_one_more_level_is_refused() {
        assert_eq!(check("{a{b(x:[1])}}", BOUNDS), Ok(()));
        assert_eq!(check("{a{b(x:[[1]])}}", BOUNDS), Err(Refusal::Nesting(4)));
    }

    #[test]
    fn brackets_inside_strings_block_strings_and_comments_are_text() {
        let document = "{a(x:\"[[[[[[\" y:\"\"\"{{{{{{ \\\"\"\" (((((\"\"\") # [[[[[[[\n}";
        assert_eq!(check(document, BOUNDS), Ok(()));
    }

    #[test]
    fn an_escaped_quote_does_not_end_a_string() {
        assert_eq!(check(r#"{a(x:"\"[[[[[[[")}"#, BOUNDS), Ok(()));
    }

    #[test]
    fn tokens_above_the_bound_are_refused() {
        let fields = "a ".repeat(18);
        assert_eq!(check(&format!("{{{fields}}}"), BOUNDS), Ok(()));
        let fields = "a ".repeat(19);
        assert_eq!(
            check(&format!("{{{fields}}}"), BOUNDS),
            Err(Refusal::Tokens(20))
        );
    }

    #[test]
    fn numbers_names_and_spreads_are_one_token_each() {
        let bounds = Bounds {
            nesting: 4,
            tokens: 8,
        };
        // `{ ... on T { x } }` is 8 tokens, and so is `{ a ( x : -1.5e+3 ) }`.
        assert_eq!(check("{...on T{x}}", bounds), Ok(()));
        assert_eq!(check("{a(x:-1.5e+3)}", bounds), Ok(()));
        assert_eq!(check("{a(x:-1.5e+3 )}}", bounds), Err(Refusal::Tokens(8)));
    }

    #[test]
    fn unterminated_strings_and_stray_bytes_end_the_scan_without_panicking() {
        for document in [
            "\"",
            "\"\"\"",
            "{\"\\",
            "\u{feff}{a}",
            "{a(x:\"\n)}",
            "...",
            "..",
        ] {
            let _ = check(document, BOUNDS);
        }
    }

    #[test]
    fn closers_without_openers_do_not_underflow() {
        assert_eq!(check("}}}]]]))){a}", BOUNDS), Ok(()));
    }
}
