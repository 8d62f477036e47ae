//! The frontend's own operations, `docs/operations/*.graphql`, embedded in
//! the binary. Their names are the only client-chosen text a metric label
//! may carry: any other operation is counted as `other`.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The label of operations that are not the frontend's own.
pub const OTHER: &str = "other";

/// Every document under `docs/operations/`; a new file there must be added here
/// (a test checks the two agree).
pub const DOCUMENTS: &[&str] = &[
    include_str!("../docs/operations/assignment-panel.graphql"),
    include_str!("../docs/operations/audit-panel.graphql"),
    include_str!("../docs/operations/client-panel.graphql"),
    include_str!("../docs/operations/clients-list.graphql"),
    include_str!("../docs/operations/escalation-boundaries.graphql"),
    include_str!("../docs/operations/fragments.graphql"),
    include_str!("../docs/operations/provision-client.graphql"),
    include_str!("../docs/operations/viewer.graphql"),
];

/// The operation names defined in [`DOCUMENTS`].
pub fn known() -> &'static HashSet<String> {
    static KNOWN: OnceLock<HashSet<String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        DOCUMENTS
            .iter()
            .filter_map(|d| async_graphql::parser::parse_query(d).ok())
            .flat_map(|doc| {
                doc.operations.iter().filter_map(|(name, _)| name.map(|n| n.to_string())).collect::<Vec<_>>()
            })
            .collect()
    })
}

/// The metrics label for an operation name: itself when it is one of the
/// frontend's, else [`OTHER`].
pub fn label(name: Option<&str>) -> &'static str {
    match name.and_then(|n| known().get(n)) {
        Some(known) => known.as_str(),
        None => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_is_embedded_and_named() {
        let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "graphql"))
            .count();
        assert_eq!(on_disk, DOCUMENTS.len(), "add the new document to DOCUMENTS");
        assert!(known().contains("ClientsList") && known().contains("Viewer"), "{:?}", known());
        assert_eq!(label(Some("ClientsList")), "ClientsList");
        assert_eq!(label(Some("x".repeat(10_000).as_str())), OTHER);
        assert_eq!(label(None), OTHER);
    }
}
