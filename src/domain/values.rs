use super::Invalid;
use std::fmt;
use unicode_properties::{GeneralCategory as Gc, GeneralCategoryGroup as Group, UnicodeGeneralCategory};

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

/// A partner's identifier for a client: `^[a-z0-9](?:[a-z0-9-]{1,62})[a-z0-9]$` (3 to 64 characters).
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

/// Human text such as a business, contact or display name: trimmed, 1 to
/// 200 characters, at least one visible, and none that change how the rest
/// renders without showing themselves: controls (Cc), format characters (Cf:
/// zero-width spaces and joiners, byte-order mark, bidi overrides and isolates,
/// soft hyphen), line and paragraph separators (Zl, Zp). A bidi override
/// would show `Good\u{202e}live` as "Goodevil" in every list.
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
        if let Some(c) = t.chars().find(|&c| is_hidden_control(c)) {
            return Err(Invalid::new(format!(
                "must not contain control, format or line-separator characters (found U+{:04X})",
                u32::from(c)
            )));
        }
        if !t.chars().any(is_visible) {
            return Err(Invalid::new("must contain at least one visible character"));
        }
        Ok(PlainText(t.to_owned()))
    }
}

/// Controls, format characters, line and paragraph separators: invisible or layout-changing anywhere.
fn is_hidden_control(c: char) -> bool {
    matches!(c.general_category(), Gc::Control | Gc::Format | Gc::LineSeparator | Gc::ParagraphSeparator)
}

/// A character that draws something on its own: a letter, number,
/// punctuation mark or symbol. Spaces, marks (which need a base), private-use
/// and unassigned code points do not count, nor do the few letters and
/// symbols that render blank: the Hangul fillers (the only letters Unicode
/// lists as Default_Ignorable_Code_Point) and the braille blank.
fn is_visible(c: char) -> bool {
    let blank = matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}');
    let drawn =
        matches!(c.general_category_group(), Group::Letter | Group::Number | Group::Punctuation | Group::Symbol);
    drawn && !blank
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

/// A business e-mail address (`email_address` crate: RFC 5321/5322 syntax,
/// dotted domain, no display name or domain literal). The domain is stored
/// as `WebDomain` stores a host (IDNA, punycode, lower-case): `jo@bücher.de`
/// is `jo@xn--bcher-kva.de`, a look-alike in another script shows as
/// `xn--...`. The local part is kept as given, but hides nothing (no Cc, Cf,
/// Zl, Zp).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessEmail(String);
value_type!(BusinessEmail);

impl BusinessEmail {
    pub const MAX_LEN: usize = 254;

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
        if parsed.local_part().chars().any(is_hidden_control) {
            return Err(Invalid::new("must not contain control, format or line-separator characters"));
        }
        let domain = WebDomain::parse(parsed.domain())
            .map_err(|_| Invalid::new("is not a valid e-mail address: the domain is not a valid host name"))?;
        let stored = format!("{}@{}", parsed.local_part(), domain);
        // Checked on the stored form: punycode is longer than what was typed.
        if t.len() > Self::MAX_LEN || stored.len() > Self::MAX_LEN {
            return Err(Invalid::new(format!("must be at most {} characters", Self::MAX_LEN)));
        }
        Ok(BusinessEmail(stored))
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
        let good = [
            ("  Acme Dental  ", "Acme Dental"),
            ("Zoë's Café & Co.", "Zoë's Café & Co."),
            ("株式会社", "株式会社"),
            ("Ann\u{a0}Lee", "Ann\u{a0}Lee"), // no-break space between letters
            ("\u{3000}Acme\u{3000}", "Acme"), // ideographic spaces trimmed
            ("e\u{301}", "e\u{301}"),         // a combining mark on a base
            ("❤\u{fe0f}", "❤\u{fe0f}"),       // a variation selector is a mark, not Cf
            ("★", "★"),
        ];
        for (input, stored) in good {
            assert_eq!(PlainText::parse(input).unwrap().as_str(), stored, "{input:?}");
        }
        assert_eq!(PlainText::parse(&"é".repeat(200)).unwrap().as_str().chars().count(), 200);
        let bad_and_message_words = [
            ("", "blank"),
            ("   ", "blank"),
            ("\u{3000}", "blank"),
            (&"x".repeat(201) as &str, "at most 200"),
            ("a\u{0}b", "control"),
            ("tab\there", "control"),
            ("line\nbreak", "control"),
            ("a\u{85}b", "control"),
            // Format characters (Cf): zero-width, byte-order, bidi, soft hyphen, tags.
            ("\u{200b}", "U+200B"),
            ("Ac\u{200b}me", "U+200B"),
            ("Ac\u{200c}me", "U+200C"),
            ("Ac\u{200d}me", "U+200D"),
            ("\u{200d}", "U+200D"),
            ("Acme\u{200e}", "U+200E"),
            ("Acme\u{200f}", "U+200F"),
            ("\u{feff}Acme", "U+FEFF"),
            ("Good\u{202e}live", "U+202E"),
            ("\u{202a}Acme", "U+202A"),
            ("\u{202d}Acme", "U+202D"),
            ("Acme\u{2066}", "U+2066"),
            ("Acme\u{2069}", "U+2069"),
            ("Acme\u{61c}", "U+061C"),
            ("Ac\u{ad}me", "U+00AD"),
            ("Ac\u{2060}me", "U+2060"),
            ("Ac\u{180e}me", "U+180E"),
            ("\u{1f3f4}\u{e0067}\u{e007f}", "U+E0067"), // tag characters
            // Line and paragraph separators (Zl, Zp), inside a value.
            ("a\u{2028}b", "U+2028"),
            ("a\u{2029}b", "U+2029"),
            // Nothing visible: spaces, fillers, blanks and lone marks.
            ("\u{2800}", "visible"),
            ("\u{3164}", "visible"),
            ("\u{115f}\u{1160}", "visible"),
            ("\u{ffa0}", "visible"),
            ("\u{2800}\u{3000}\u{2800}", "visible"),
            ("\u{301}", "visible"),
            ("\u{34f}", "visible"),
            ("\u{fe0f}", "visible"),
            ("\u{e000}", "visible"),
        ];
        for (input, words) in bad_and_message_words {
            let err = PlainText::parse(input).expect_err(input);
            assert!(err.0.contains(words), "{input:?}: {:?} should mention {words:?}", err.0);
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
        let good = [
            ("Jo@Example.COM", "Jo@example.com"),
            ("first.last+tag@mail.example.org", "first.last+tag@mail.example.org"),
            ("jo@bücher.de", "jo@xn--bcher-kva.de"),
            ("jo@BÜCHER.de", "jo@xn--bcher-kva.de"),
            ("jo@xn--bcher-kva.de", "jo@xn--bcher-kva.de"),
            // Cyrillic а (U+0430) in place of Latin a: stored as punycode, never raw.
            ("jo@\u{430}pple.com", "jo@xn--pple-43d.com"),
            // UTS #46 maps a zero-width space out, as WebDomain does.
            ("jo@exa\u{200b}mple.com", "jo@example.com"),
        ];
        for (input, stored) in good {
            assert_eq!(BusinessEmail::parse(input).unwrap().as_str(), stored, "{input:?}");
        }
        for b in [
            "",
            "plain",
            "@example.com",
            "jo@",
            "jo@localhost",
            "Jo <jo@example.com>",
            "jo@[127.0.0.1]",
            "jo@@example.com",
            "jo@1.2.3.4",
            "jo@under_score.com",
            "jo@-bad.com",
            "jo\u{202e}x@example.com", // the local part, kept as typed, must not hide anything either
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
