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

// The two roles allowed on this surface (a plain comment: a doc comment
// would become a schema description, and `PartnerRole` has none).
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PartnerRole {
    PartnerAdmin,
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
    /// A client's lifecycle. Partners cannot change it through this API.
    #[derive(async_graphql::Enum)]
    ClientStatus {
        /// Profile only: what provisioning creates.
        Provisioned => "PROVISIONED",
        Onboarding => "ONBOARDING",
        Active => "ACTIVE",
        Suspended => "SUSPENDED",
        Offboarded => "OFFBOARDED",
    }
);

text_enum!(
    #[derive(async_graphql::Enum)]
    AuditAction {
        ClientProvisioned => "CLIENT_PROVISIONED",
        UserAssigned => "USER_ASSIGNED",
        UserUnassigned => "USER_UNASSIGNED",
        SupportContactSet => "SUPPORT_CONTACT_SET",
        SupportContactUnset => "SUPPORT_CONTACT_UNSET",
        ClientStatusChanged => "CLIENT_STATUS_CHANGED",
    }
);

// The sort keys of the client list (`ClientOrderField` in the schema; no
// doc comment, which would become a schema description).
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Default, Hash)]
#[graphql(name = "ClientOrderField")]
pub enum OrderField {
    #[default]
    BusinessName,
    ClientId,
    CreatedAt,
}

// The codes of a `UserError` (DESIGN.md §4); the service returns them and
// the schema shows them as they are.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum UserErrorCode {
    Invalid,
    Taken,
    UserNotEligible,
    NotAssigned,
    SupportContactRequired,
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
