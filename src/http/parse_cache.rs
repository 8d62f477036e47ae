//! A bounded cache of parsed documents.

/// Parsed documents by query text. Frontends send the same few operations
/// over and over (codegen), and parsing is a measurable share of a small
/// request's CPU; validation and execution still run every time. Bounded:
/// cleared when full; documents over 8 KiB are not kept.
#[derive(Default)]
pub struct ParseCache(
    std::sync::Mutex<std::collections::HashMap<String, async_graphql::parser::types::ExecutableDocument>>,
);

impl ParseCache {
    const MAX_ENTRIES: usize = 256;
    const MAX_QUERY_BYTES: usize = 8 * 1024;

    pub fn get(&self, query: &str) -> Option<async_graphql::parser::types::ExecutableDocument> {
        self.0.lock().ok()?.get(query).cloned()
    }

    pub fn put(&self, query: &str, doc: &async_graphql::parser::types::ExecutableDocument) {
        if query.len() > Self::MAX_QUERY_BYTES {
            return;
        }
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= Self::MAX_ENTRIES {
                m.clear();
            }
            if !m.contains_key(query) {
                m.insert(query.to_owned(), doc.clone());
            }
        }
    }
}

