use super::Invalid;
use std::fmt;

/// Implements the read-only accessors every value type shares.
macro_rules! value_type {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A partner's identifier for a client: `^[a-z0-9](?:[a-z0-9-]{1,62})[a-z0-9]$`
/// (3 to 64 characters, lower-case letters, digits and inner hyphens).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientId(String);
value_type!(ClientId);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let ok_edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let ok_inner = |b: u8| ok_edge(b) || b == b'-';
        let bytes = s.as_bytes();
        let valid = (3..=64).contains(&bytes.len())
            && ok_edge(bytes[0])
            && ok_edge(bytes[bytes.len() - 1])
            && bytes.iter().all(|&b| ok_inner(b));
        if valid {
            Ok(ClientId(s.to_owned()))
        } else {
            Err(Invalid::new(
                "must be 3-64 characters of lower-case letters, digits and hyphens, starting and ending with a letter or digit",
            ))
        }
    }
}

/// Human text such as a business or contact name: trimmed, 1 to 200
/// characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainText(String);
value_type!(PlainText);

impl PlainText {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new("must not be blank"));
        }
        if t.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        if t.chars().any(char::is_control) {
            return Err(Invalid::new("must not contain control characters"));
        }
        Ok(PlainText(t.to_owned()))
    }
}

/// A host name only (no scheme, path, port, user info or IP address), stored
/// lower-case in its ASCII form: internationalised names become punycode
/// (`Bücher.de` -> `xn--bcher-kva.de`). Checked with the `idna` crate's
/// strict UTS #46 mapping (STD3 rules, DNS lengths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebDomain(String);
value_type!(WebDomain);

impl WebDomain {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        let t = t.strip_suffix('.').unwrap_or(t);
        if t.is_empty() {
            return Err(Invalid::new("must not be blank"));
        }
        if t.contains("://") || t.contains(['/', '?', '#', '@', ':', '[', ']', ' ']) {
            return Err(Invalid::new("must be a host name only, such as example.com: no scheme, path, port or user"));
        }
        if t.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err(Invalid::new("must be a host name, not an IP address"));
        }
        let ascii = idna::domain_to_ascii_strict(t).map_err(|_| Invalid::new("is not a valid domain name"))?;
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
            return Err(Invalid::new("must be a fully qualified domain name, such as example.com"));
        }
        // A numeric top-level label is an IPv4 address in disguise (1.2.3), never a host name.
        if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return Err(Invalid::new("must be a host name, not an IP address"));
        }
        Ok(WebDomain(ascii))
    }
}

/// A business e-mail address, parsed by the `email_address` crate (RFC 5321
/// / 5322 syntax) with a dotted domain, no display name and no domain
/// literal. The domain is lower-cased; the local part is kept as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessEmail(String);
value_type!(BusinessEmail);

impl BusinessEmail {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        let options = email_address::Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            ..Default::default()
        };
        let parsed = email_address::EmailAddress::parse_with_options(t, options)
            .map_err(|_| Invalid::new("is not a valid e-mail address"))?;
        if t.len() > 254 {
            return Err(Invalid::new("must be at most 254 characters"));
        }
        Ok(BusinessEmail(format!("{}@{}", parsed.local_part(), parsed.domain().to_ascii_lowercase())))
    }
}

/// An IANA time-zone name known to `chrono-tz` (for example `Europe/Berlin`).
/// Spelled exactly as the database spells it; `UTC` is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timezone(String);
value_type!(Timezone);

impl Timezone {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        match t.parse::<chrono_tz::Tz>() {
            Ok(tz) if tz.name() == t => Ok(Timezone(t.to_owned())),
            _ => Err(Invalid::new("must be an IANA time zone name such as Europe/Berlin")),
        }
    }
}

/// A search term: trimmed, at most 100 characters, no control characters,
/// lower-cased the same way the stored search columns are (Rust's Unicode
/// `to_lowercase`, on both databases). `None` when blank: no filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchTerm(String);
value_type!(SearchTerm);

impl SearchTerm {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(s: &str) -> Result<Option<Self>, Invalid> {
        let t = s.trim();
        if t.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!("search must be at most {} characters", Self::MAX_CHARS)));
        }
        if t.chars().any(char::is_control) {
            return Err(Invalid::new("search must not contain control characters"));
        }
        Ok((!t.is_empty()).then(|| SearchTerm(t.to_lowercase())))
    }

    /// A `LIKE` pattern matching the term anywhere, with `\` as the escape
    /// character so that `%`, `_` and `\` in the term are literal.
    pub fn like_pattern(&self) -> String {
        let mut p = String::with_capacity(self.0.len() + 2);
        p.push('%');
        for c in self.0.chars() {
            if matches!(c, '%' | '_' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        p.push('%');
        p
    }
}

/// The normalised text the search columns hold: each field lower-cased,
/// joined by U+001F (a control character, so no search term can span two
/// fields).
pub fn search_text(fields: &[&str]) -> String {
    fields.iter().map(|f| f.to_lowercase()).collect::<Vec<_>>().join("\u{1f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_table() {
        let good = ["acme", "a1b", "abc-def", "0-0", &"a".repeat(64)];
        let bad = ["", "ab", "-abc", "abc-", "Acme", "ac_me", "ac me", "acmé", &"a".repeat(65)];
        for g in good {
            assert_eq!(ClientId::parse(g).unwrap().as_str(), g, "{g:?} should be valid");
        }
        for b in bad {
            assert!(ClientId::parse(b).is_err(), "{b:?} should be invalid");
        }
    }

    #[test]
    fn plain_text_table() {
        assert_eq!(PlainText::parse("  Acme Dental  ").unwrap().as_str(), "Acme Dental");
        assert_eq!(PlainText::parse(&"é".repeat(200)).unwrap().as_str().chars().count(), 200);
        for b in ["", "   ", "a\u{0}b", "tab\there", "line\nbreak", &"x".repeat(201)] {
            assert!(PlainText::parse(b).is_err(), "{b:?} should be invalid");
        }
    }

    #[test]
    fn web_domain_table() {
        let good = [
            ("example.com", "example.com"),
            ("Example.COM", "example.com"),
            ("Bücher.de", "xn--bcher-kva.de"),
            ("sub.domain.co.uk.", "sub.domain.co.uk"),
            ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ];
        for (input, stored) in good {
            assert_eq!(WebDomain::parse(input).unwrap().as_str(), stored, "{input:?}");
        }
        let bad = [
            "",
            "https://example.com",
            "example.com/path",
            "example.com:8080",
            "user@example.com",
            "localhost",
            "127.0.0.1",
            "[::1]",
            "exa mple.com",
            "-bad.com",
            "a..b.com",
            "under_score.com",
            "1.2.3",
        ];
        for b in bad {
            assert!(WebDomain::parse(b).is_err(), "{b:?} should be invalid");
        }
    }

    #[test]
    fn business_email_table() {
        assert_eq!(BusinessEmail::parse("Jo@Example.COM").unwrap().as_str(), "Jo@example.com");
        assert!(BusinessEmail::parse("first.last+tag@mail.example.org").is_ok());
        for b in [
            "",
            "plain",
            "@example.com",
            "jo@",
            "jo@localhost",
            "Jo <jo@example.com>",
            "jo@[127.0.0.1]",
            "jo@@example.com",
        ] {
            assert!(BusinessEmail::parse(b).is_err(), "{b:?} should be invalid");
        }
    }

    #[test]
    fn timezone_table() {
        for g in ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"] {
            assert_eq!(Timezone::parse(g).unwrap().as_str(), g);
        }
        for b in ["", "Mars/Olympus", "europe/berlin", "GMT+25", "Berlin"] {
            assert!(Timezone::parse(b).is_err(), "{b:?} should be invalid");
        }
    }

    #[test]
    fn search_term_escapes_wildcards() {
        assert_eq!(SearchTerm::parse("   ").unwrap(), None);
        let t = SearchTerm::parse(" 50%_off\\ ").unwrap().unwrap();
        assert_eq!(t.like_pattern(), "%50\\%\\_off\\\\%");
        assert_eq!(SearchTerm::parse("DENT").unwrap().unwrap().as_str(), "dent");
        assert!(SearchTerm::parse(&"x".repeat(101)).is_err());
        assert!(SearchTerm::parse("a\u{1f}b").is_err());
    }
}
