//! Relay IDs: opaque, typed, globally unique (`base64("Driver:<uuid>")`).

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use crate::error::{AppError, AppResult};

/// The kinds of record an ID can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Organization
    Organization,
    /// User
    User,
    /// Driver (the same UUID as its User)
    Driver,
    /// Depot
    Depot,
    /// Route
    Route,
    /// SharedDriver
    SharedDriver,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Organization => "Organization",
            Self::User => "User",
            Self::Driver => "Driver",
            Self::Depot => "Depot",
            Self::Route => "Route",
            Self::SharedDriver => "SharedDriver",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            Self::Organization,
            Self::User,
            Self::Driver,
            Self::Depot,
            Self::Route,
            Self::SharedDriver,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// The longest kind name (`Organization`, `SharedDriver`).
const LONGEST_KIND: usize = 12;

/// The ID of record `id` of `kind`: written on the stack, then encoded in one allocation (a
/// page of 100 drivers with their depots makes 200 of them).
pub fn encode(kind: Kind, id: Uuid) -> ID {
    let name = kind.name().as_bytes();
    let mut text = [0u8; LONGEST_KIND + 1 + Hyphenated::LENGTH];
    text[..name.len()].copy_from_slice(name);
    text[name.len()] = b':';
    let end = name.len() + 1 + Hyphenated::LENGTH;
    id.hyphenated().encode_lower(&mut text[name.len() + 1..end]);
    ID(STANDARD.encode(&text[..end]))
}

/// Reads any ID; `None` when it is not one of ours.
pub fn parse(id: &str) -> Option<(Kind, Uuid)> {
    let bytes = STANDARD.decode(id).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (kind, uuid) = text.split_once(':')?;
    Some((Kind::from_name(kind)?, uuid.parse().ok()?))
}

/// Reads an ID that must be of `kind`; BAD_USER_INPUT naming `field` otherwise.
pub fn decode(id: &ID, kind: Kind, field: &str) -> AppResult<Uuid> {
    match parse(id) {
        Some((k, uuid)) if k == kind => Ok(uuid),
        _ => Err(AppError::bad_input(
            field,
            format!("is not a {} ID", kind.name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_decodes_to_its_kind_and_uuid() {
        let uuid = Uuid::now_v7();
        let id = encode(Kind::Driver, uuid);
        assert_eq!(parse(&id), Some((Kind::Driver, uuid)));
    }

    #[test]
    fn an_id_is_the_base64_of_its_kind_a_colon_and_its_uuid() {
        let uuid = Uuid::now_v7();
        for kind in [
            Kind::Organization,
            Kind::User,
            Kind::Driver,
            Kind::Depot,
            Kind::Route,
            Kind::SharedDriver,
        ] {
            let expected = STANDARD.encode(format!("{}:{uuid}", kind.name()));
            assert_eq!(encode(kind, uuid).0, expected);
        }
    }

    #[test]
    fn an_id_of_another_kind_is_refused() {
        let id = encode(Kind::Driver, Uuid::now_v7());
        assert!(decode(&id, Kind::User, "userId").is_err());
        assert!(decode(&ID("garbage".into()), Kind::User, "userId").is_err());
    }
}
