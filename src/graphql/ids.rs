//! Opaque global ids for `Node`: base64url of `Type:key`, every key a uuid
//! (audit events' are v7: no key counts anything). Clients must not parse
//! them; a malformed or foreign id resolves exactly as an absent one.

use async_graphql::ID;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Client,
    PartnerUser,
    Partner,
    AuditEvent,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Client => "Client",
            Kind::PartnerUser => "PartnerUser",
            Kind::Partner => "Partner",
            Kind::AuditEvent => "AuditEvent",
        }
    }
}

pub fn encode(kind: Kind, key: impl std::fmt::Display) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{key}", kind.tag())))
}

/// The kind and raw key of an id, if it is one of ours.
pub fn decode(id: &str) -> Option<(Kind, String)> {
    if id.len() > 200 {
        return None;
    }
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let (tag, key) = raw.split_once(':')?;
    let kind =
        [Kind::Client, Kind::PartnerUser, Kind::Partner, Kind::AuditEvent].into_iter().find(|k| k.tag() == tag)?;
    Some((kind, key.to_owned()))
}

pub fn decode_uuid(id: &str, want: Kind) -> Option<Uuid> {
    match decode(id)? {
        (k, key) if k == want => Uuid::parse_str(&key).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let u = Uuid::now_v7();
        let id = encode(Kind::PartnerUser, u);
        assert_eq!(decode_uuid(&id, Kind::PartnerUser), Some(u));
        assert_eq!(decode_uuid(&id, Kind::Client), None);
        // Audit events too: a UUIDv7, never a sequence number (DESIGN §7).
        assert_eq!(decode_uuid(&encode(Kind::AuditEvent, u), Kind::AuditEvent), Some(u));
        assert_eq!(decode("!!"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("Nope:1")), None);
    }
}
