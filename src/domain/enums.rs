use std::fmt;
use std::str::FromStr;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

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

text_enum!(
    /// A client's lifecycle. Partners never change it through the API.
    ClientStatus {
        Provisioned => "PROVISIONED",
        Onboarding => "ONBOARDING",
        Active => "ACTIVE",
        Suspended => "SUSPENDED",
        Offboarded => "OFFBOARDED",
    }
);

text_enum!(
    AuditAction {
        ClientProvisioned => "CLIENT_PROVISIONED",
        UserAssigned => "USER_ASSIGNED",
        UserUnassigned => "USER_UNASSIGNED",
        SupportContactSet => "SUPPORT_CONTACT_SET",
        SupportContactUnset => "SUPPORT_CONTACT_UNSET",
        ClientStatusChanged => "CLIENT_STATUS_CHANGED",
    }
);

/// The sort keys of the client list.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, Hash)]
pub enum OrderField {
    #[default]
    BusinessName,
    ClientId,
    CreatedAt,
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
