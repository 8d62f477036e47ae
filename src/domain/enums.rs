//! The enumerations of the domain, one definition each: stored as text
//! (`as_str` / `FromStr`, the entity columns stay `String`) and, where the
//! API shows them, the GraphQL enum itself (`async_graphql::Enum`, whose
//! doc comments are the schema descriptions).

use std::fmt;
use std::str::FromStr;

macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored (database) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = super::Invalid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(super::Invalid(format!(
                        concat!("unknown ", stringify!($name), " {:?}; expected one of: {}"),
                        s,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Every role the auth layer knows. Only the two partner roles may use
    /// this service; the policy module decides what each may do.
    Role {
        PartnerAdmin => "partner_admin",
        PartnerUser => "partner_user",
        CustomerAdmin => "customer_admin",
        CustomerUser => "customer_user",
        AidialStaff => "aidial_staff",
    }
);

impl Role {
    pub fn is_partner(self) -> bool {
        matches!(self, Role::PartnerAdmin | Role::PartnerUser)
    }
}

/// A person's role in a partner organisation: the two roles allowed on
/// this API.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PartnerRole {
    /// Sees every client of the partner and its contact details, provisions
    /// clients and manages assignments.
    PartnerAdmin,
    /// Sees only the clients they are assigned to, without contact details;
    /// cannot change anything.
    PartnerUser,
}

impl PartnerRole {
    /// The partner role of a role, or `None` for every other role.
    pub fn from_role(role: Role) -> Option<Self> {
        match role {
            Role::PartnerAdmin => Some(PartnerRole::PartnerAdmin),
            Role::PartnerUser => Some(PartnerRole::PartnerUser),
            Role::CustomerAdmin | Role::CustomerUser | Role::AidialStaff => None,
        }
    }
}

text_enum!(
    /// A client's lifecycle. Partners cannot change it through this API;
    /// AiDial's own workflows move it. New values may be added: show an
    /// unknown one as it is.
    #[derive(async_graphql::Enum)]
    ClientStatus {
        /// Profile only: what provisioning creates.
        Provisioned => "PROVISIONED",
        /// AiDial is setting the client up.
        Onboarding => "ONBOARDING",
        /// Live.
        Active => "ACTIVE",
        /// Paused by AiDial; the profile and its history are kept.
        Suspended => "SUSPENDED",
        /// No longer served; the profile and its history are kept.
        Offboarded => "OFFBOARDED",
    }
);

text_enum!(
    /// What an audit event records.
    #[derive(async_graphql::Enum)]
    AuditAction {
        /// The client was provisioned (`provisionClient`).
        ClientProvisioned => "CLIENT_PROVISIONED",
        /// `subjectUser` was assigned to the client.
        UserAssigned => "USER_ASSIGNED",
        /// `subjectUser` was removed from the client.
        UserUnassigned => "USER_UNASSIGNED",
        /// `subjectUser` became a support contact of the client.
        SupportContactSet => "SUPPORT_CONTACT_SET",
        /// `subjectUser` stopped being a support contact of the client.
        SupportContactUnset => "SUPPORT_CONTACT_UNSET",
        /// AiDial changed the client's status.
        ClientStatusChanged => "CLIENT_STATUS_CHANGED",
    }
);

/// What the client list is sorted by (`ClientOrder.field`); ties are
/// broken by the client's id.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Default, Hash)]
#[graphql(name = "ClientOrderField")]
pub enum OrderField {
    /// The business name, ignoring case. The default.
    #[default]
    BusinessName,
    /// The partner's clientId.
    ClientId,
    /// When the client was provisioned.
    CreatedAt,
}

/// Why a mutation refused its input (`UserError.code`); the message says
/// it in words. New codes may be added: treat an unknown one like `INVALID`.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum UserErrorCode {
    /// The field's value breaks its rule (format, length, characters), or a
    /// list is empty.
    Invalid,
    /// The clientId already belongs to a different client of the partner.
    Taken,
    /// The user cannot be assigned: not an active user of the viewer's
    /// partner (or not a PartnerUser id).
    UserNotEligible,
    /// The user is not assigned to the client.
    NotAssigned,
    /// The change would leave a client that requires a support contact
    /// without one: make another assigned user a support contact first.
    SupportContactRequired,
    /// Too many items at once (more than 100 user ids).
    TooMany,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_variant() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        for s in ClientStatus::ALL {
            assert_eq!(s.as_str().parse::<ClientStatus>().unwrap(), *s);
        }
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), *a);
        }
    }

    #[test]
    fn refuses_unknown_spellings() {
        assert!("PARTNER_ADMIN".parse::<Role>().is_err());
        assert!("active".parse::<ClientStatus>().is_err());
        assert!("".parse::<AuditAction>().is_err());
    }
}
