//! The frontend's own operations, as the trusted-document manifest
//! (DESIGN §9): the `persisted-documents.json` that graphql-codegen's client
//! preset writes for `docs/operations/*.graphql`, committed beside them and
//! embedded in the binary (or read from `TRUSTED_DOCUMENTS_FILE` at
//! start-up). Maps `sha256:<hex>` ids to document text.
//!
//! It is the one source of truth for two things: which documents a
//! `documentId` may name (each parsed once, here, and never evicted), and
//! which operation names a metric label may carry; any other operation is
//! counted as `other`. A test checks that the committed manifest is what
//! codegen makes of `docs/operations/` today.

use anyhow::Context as _;
use async_graphql::parser::types::ExecutableDocument;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;

/// The label of operations that are not the frontend's own.
pub const OTHER: &str = "other";

/// `docs/operations/persisted-documents.json`, as `npm run codegen` wrote it.
pub const EMBEDDED_MANIFEST: &str = include_str!("../docs/operations/persisted-documents.json");

/// One trusted document: its text and its parse.
pub struct Persisted {
    pub text: String,
    pub doc: ExecutableDocument,
}

/// The manifest: trusted documents by id, and their operation names.
#[derive(Default)]
pub struct Manifest {
    documents: HashMap<String, Persisted>,
    names: BTreeSet<String>,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Manifest({} documents)", self.documents.len())
    }
}

impl Manifest {
    /// Parse a manifest, `{ "sha256:<hex>": "<document>" }`. Every id must be
    /// a SHA-256 document identifier and every document must parse; a
    /// manifest may hold one operation name several times (the documents of
    /// two frontend releases, merged for a rolling deploy).
    pub fn parse(json: &str) -> anyhow::Result<Self> {
        let entries: HashMap<String, String> =
            serde_json::from_str(json).context("not a JSON object of document ids to document text")?;
        let mut manifest = Manifest::default();
        for (id, text) in entries {
            anyhow::ensure!(is_sha256_id(&id), "{id:?} is not a document id of the form sha256:<64 lower-case hex>");
            let doc = async_graphql::parser::parse_query(&text).with_context(|| format!("document {id}"))?;
            anyhow::ensure!(doc.operations.iter().next().is_some(), "document {id} has no operation");
            manifest.names.extend(doc.operations.iter().filter_map(|(name, _)| name.map(|n| n.to_string())));
            manifest.documents.insert(id, Persisted { text, doc });
        }
        Ok(manifest)
    }

    /// The manifest built into the binary.
    pub fn embedded() -> &'static Manifest {
        static EMBEDDED: OnceLock<Manifest> = OnceLock::new();
        // Not a runtime condition: the test below parses this very text, so
        // a manifest that does not parse fails the build's tests.
        EMBEDDED.get_or_init(|| Manifest::parse(EMBEDDED_MANIFEST).expect("the embedded manifest parses"))
    }

    /// `TRUSTED_DOCUMENTS_FILE`, read and parsed once at start-up. It lives
    /// as long as the process (its names are metric labels), so it is
    /// leaked on purpose: one per `serve`.
    pub fn load(path: &Path) -> anyhow::Result<&'static Manifest> {
        let read = || -> anyhow::Result<Manifest> { Manifest::parse(&std::fs::read_to_string(path)?) };
        let manifest = read().with_context(|| format!("TRUSTED_DOCUMENTS_FILE {}", path.display()))?;
        Ok(Box::leak(Box::new(manifest)))
    }

    pub fn get(&self, id: &str) -> Option<&Persisted> {
        self.documents.get(id)
    }

    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// The operation names of the manifest's documents.
    pub fn names(&'static self) -> impl Iterator<Item = &'static str> {
        self.names.iter().map(String::as_str)
    }

    /// The metrics label for an operation name: itself when the manifest
    /// has an operation of that name (whether this request sent its id or
    /// free-form text), else [`OTHER`].
    pub fn label(&'static self, name: Option<&str>) -> &'static str {
        match name.and_then(|n| self.names.get(n)) {
            Some(known) => known.as_str(),
            None => OTHER,
        }
    }
}

/// `sha256:` and 64 lower-case hex digits (GraphQL over HTTP, Appendix A).
pub fn is_sha256_id(id: &str) -> bool {
    id.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_manifests_names_or_other() {
        let m = Manifest::embedded();
        let names: Vec<&str> = m.names().collect();
        assert!(names.contains(&"ClientsList") && names.contains(&"Viewer"), "{names:?}");
        assert_eq!(m.label(Some("ClientsList")), "ClientsList");
        assert_eq!(m.label(Some("x".repeat(10_000).as_str())), OTHER);
        assert_eq!(m.label(None), OTHER);
    }

    #[test]
    fn a_manifest_refuses_bad_ids_and_documents() {
        let id = format!("sha256:{}", "a".repeat(64));
        assert!(Manifest::parse(&format!(r#"{{"{id}": "query Q {{ viewer {{ role }} }}"}}"#)).is_ok());
        for bad in [
            r#"[]"#.to_owned(),
            r#"{"md5:abc": "query Q { viewer { role } }"}"#.to_owned(),
            format!(r#"{{"sha256:{}": "query Q {{ viewer {{ role }} }}"}}"#, "A".repeat(64)),
            format!(r#"{{"{id}": "query Q {{"}}"#),
            format!(r#"{{"{id}": "fragment F on Viewer {{ role }}"}}"#),
        ] {
            assert!(Manifest::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_manifest_file_is_read_once_and_labels_its_own_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("persisted-documents.json");
        let id = format!("sha256:{}", "b".repeat(64));
        std::fs::write(&path, format!(r#"{{"{id}": "query OnlyInTheFile {{ viewer {{ role }} }}"}}"#)).unwrap();
        let m = Manifest::load(&path).unwrap();
        assert_eq!(m.len(), 1);
        assert!(m.get(&id).is_some());
        assert_eq!(m.label(Some("OnlyInTheFile")), "OnlyInTheFile");
        assert_eq!(m.label(Some("Viewer")), OTHER);
        let missing = Manifest::load(&dir.path().join("nope.json")).unwrap_err();
        assert!(format!("{missing:#}").starts_with("TRUSTED_DOCUMENTS_FILE "), "{missing:#}");
    }
}

/// The committed manifest against `docs/operations/` as it is now: it fails
/// when someone changed an operation and did not run codegen.
#[cfg(test)]
mod drift {
    use super::*;
    use sha2::Digest as _;
    use std::collections::BTreeMap;

    const REGENERATE: &str = "docs/operations/persisted-documents.json is stale: \
        run `cd codegen && npm run codegen` and commit the manifest with the operations";

    /// GraphQL's lexical tokens, without the ignored ones (white space,
    /// commas, comments): what the preset's printing cannot change.
    fn tokens(text: &str) -> Vec<String> {
        let (b, mut i, mut out) = (text.as_bytes(), 0, Vec::new());
        let name = |c: u8| c == b'_' || c.is_ascii_alphanumeric();
        while i < b.len() {
            let start = i;
            match b[i] {
                c if c.is_ascii_whitespace() || c == b',' => i += 1,
                b'#' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1
                    }
                    continue;
                }
                b'.' => i += 3,
                b'"' if text[i..].starts_with("\"\"\"") => {
                    i += 3 + text[i + 3..].find("\"\"\"").expect("closed block string") + 3;
                }
                b'"' => {
                    i += 1;
                    while b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                c if c.is_ascii_digit() || c == b'-' => {
                    i += 1;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b"._+-".contains(&b[i])) {
                        i += 1;
                    }
                }
                c if name(c) => {
                    while i < b.len() && name(b[i]) {
                        i += 1;
                    }
                }
                _ => i += 1,
            }
            if !(b[start].is_ascii_whitespace() || b[start] == b',') {
                out.push(text[start..i].to_owned());
            }
        }
        out
    }

    /// A definition: its keyword (`query`, `fragment`, …), name, tokens
    /// and the fragments it spreads.
    struct Def {
        keyword: String,
        name: String,
        tokens: Vec<String>,
        spreads: BTreeSet<String>,
    }

    /// Top-level definitions: each ends where its selection set closes.
    fn definitions(text: &str) -> Vec<Def> {
        let (mut defs, mut current, mut depth) = (Vec::new(), Vec::<String>::new(), 0i32);
        for t in tokens(text) {
            depth += match t.as_str() {
                "{" | "(" | "[" => 1,
                "}" | ")" | "]" => -1,
                _ => 0,
            };
            let closes = t == "}" && depth == 0;
            current.push(t);
            if closes {
                let tokens = std::mem::take(&mut current);
                let spreads = tokens
                    .windows(2)
                    .filter(|w| w[0] == "..." && w[1] != "on" && w[1] != "{" && !w[1].starts_with('@'))
                    .map(|w| w[1].clone())
                    .collect();
                let name = if tokens[1] == "{" { String::new() } else { tokens[1].clone() };
                defs.push(Def { keyword: tokens[0].clone(), name, tokens, spreads });
            }
        }
        assert!(current.is_empty(), "a definition does not close: {current:?}");
        defs
    }

    fn multiset<'a>(tokens: impl Iterator<Item = &'a String>) -> BTreeMap<&'a str, usize> {
        let mut m = BTreeMap::new();
        for t in tokens {
            *m.entry(t.as_str()).or_default() += 1;
        }
        m
    }

    fn manifest_entries() -> BTreeMap<String, String> {
        serde_json::from_str(EMBEDDED_MANIFEST).expect("the manifest is a JSON object of strings")
    }

    #[test]
    fn every_id_is_the_sha256_of_its_document() {
        let entries = manifest_entries();
        assert!(!entries.is_empty());
        for (id, text) in &entries {
            let hex: String = sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(id, &format!("sha256:{hex}"), "{text}");
        }
        assert_eq!(Manifest::embedded().len(), entries.len());
    }

    #[test]
    fn the_manifest_is_what_codegen_makes_of_docs_operations() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations");
        let (mut operations, mut fragments, mut all) = (BTreeMap::new(), BTreeMap::new(), String::new());
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "graphql") {
                let text = std::fs::read_to_string(&path).unwrap();
                all.push_str(&text);
                all.push('\n');
                for def in definitions(&text) {
                    assert!(!def.name.is_empty(), "{}: name every operation", path.display());
                    let into = if def.keyword == "fragment" { &mut fragments } else { &mut operations };
                    assert!(into.insert(def.name.clone(), def).is_none(), "two definitions of one name");
                }
            }
        }
        // As codegen reads them: one set of documents.
        async_graphql::parser::parse_query(&all).expect("docs/operations parses");
        // Each operation with every fragment it reaches, as codegen sends it.
        let mut expected = BTreeMap::new();
        for (name, op) in &operations {
            let (mut reached, mut todo) = (BTreeSet::new(), op.spreads.iter().cloned().collect::<Vec<_>>());
            while let Some(f) = todo.pop() {
                if reached.insert(f.clone()) {
                    todo.extend(fragments[&f].spreads.iter().cloned());
                }
            }
            let all = op.tokens.iter().chain(reached.iter().flat_map(|f| fragments[f].tokens.iter()));
            expected.insert(name.as_str(), multiset(all));
        }
        let mut seen = BTreeSet::<String>::new();
        for (id, text) in &manifest_entries() {
            let defs = definitions(text);
            let ops: Vec<&Def> = defs.iter().filter(|d| d.keyword != "fragment").collect();
            assert_eq!(ops.len(), 1, "{id}: one operation per document");
            let name = ops[0].name.as_str();
            let want = expected.get(name).unwrap_or_else(|| panic!("{REGENERATE}: {name} is not in docs/operations"));
            assert!(seen.insert(name.to_owned()), "{REGENERATE}: {name} is in two documents");
            assert_eq!(&multiset(defs.iter().flat_map(|d| d.tokens.iter())), want, "{REGENERATE}: {name} differs");
        }
        let missing: Vec<_> = expected.keys().filter(|n| !seen.contains(**n)).collect();
        assert!(missing.is_empty(), "{REGENERATE}: {missing:?} missing");
    }

    #[test]
    fn a_changed_operation_is_noticed() {
        // The comparison above can fail: one more field is another multiset.
        let a = "query Q { viewer { role } }";
        let b = "# a comment\nquery Q {\n  viewer { role, user { id } }\n}";
        assert_ne!(multiset(tokens(a).iter()), multiset(tokens(b).iter()));
        assert_eq!(tokens("query Q($a: Int = -1.5e3) { f(x: \"a \\\" b\") }").len(), 18);
        let defs = definitions("query Q($o: O = { a: 1 }) { f { ...F } } fragment F on T { g ... on U { h } }");
        assert_eq!(defs.len(), 2);
        assert_eq!(defs[0].spreads, BTreeSet::from(["F".to_owned()]));
        assert!(defs[1].spreads.is_empty());
    }
}
