//! Access tokens whose signature and claims were checked before. A dashboard sends the same
//! token with every request for its whole life; its HMAC and claim parsing need not run again.
//! An entry holds what verification found and the token's validity window, so a remembered
//! token is still refused the moment it expires. Only tokens that passed are remembered, keyed
//! by their full text: a token that differs in one byte is verified afresh. Whether the token's
//! session and membership still stand is not remembered here: the edge asks that on every
//! request.

use std::collections::HashMap;
use std::sync::Mutex;

use super::principal::Principal;

/// Most tokens remembered; past it the memory starts over.
const CAPACITY: usize = 8192;

/// Tokens verified before, with the principal each stands for.
#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<Box<str>, Entry>>,
}

struct Entry {
    principal: Principal,
    /// Not valid before this second, leeway included.
    valid_from: i64,
    /// Not valid after this second, leeway included.
    valid_until: i64,
}

impl VerifiedTokens {
    /// The principal of `token` when it was verified before and is inside its validity window
    /// at `now` (seconds since the epoch).
    pub fn get(&self, token: &str, now: i64) -> Option<Principal> {
        let entries = self.lock();
        let entry = entries.get(token)?;
        (entry.valid_from <= now && now <= entry.valid_until).then(|| entry.principal.clone())
    }

    /// Remembers that `token` verified as `principal`, valid from `valid_from` to
    /// `valid_until` (seconds since the epoch, leeway included).
    pub fn remember(&self, token: &str, principal: &Principal, valid_from: i64, valid_until: i64) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(token) {
            entries.clear();
        }
        entries.insert(
            token.into(),
            Entry {
                principal: principal.clone(),
                valid_from,
                valid_until,
            },
        );
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Entry>> {
        // A cache: a panic mid-insert leaves at worst an entry too many.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn principal() -> Principal {
        Principal {
            account_id: Uuid::now_v7(),
            scope: None,
            session_id: Uuid::now_v7(),
            expires_at: 2_000,
        }
    }

    #[test]
    fn a_remembered_token_is_found_only_inside_its_validity_window() {
        let tokens = VerifiedTokens::default();
        tokens.remember("a.b.c", &principal(), 100, 2_005);
        assert!(tokens.get("a.b.c", 99).is_none());
        assert!(tokens.get("a.b.c", 100).is_some());
        assert!(tokens.get("a.b.c", 2_005).is_some());
        assert!(tokens.get("a.b.c", 2_006).is_none());
    }

    #[test]
    fn a_token_differing_in_one_byte_is_not_found() {
        let tokens = VerifiedTokens::default();
        tokens.remember("a.b.c", &principal(), 0, 2_005);
        assert!(tokens.get("a.b.d", 1).is_none());
        assert!(tokens.get("a.b.c ", 1).is_none());
    }

    #[test]
    fn the_memory_never_holds_more_than_its_capacity() {
        let tokens = VerifiedTokens::default();
        for i in 0..CAPACITY + 10 {
            tokens.remember(&format!("t{i}"), &principal(), 0, 10);
        }
        assert!(tokens.len() <= CAPACITY);
        assert!(tokens.get(&format!("t{}", CAPACITY + 9), 1).is_some());
    }
}
