//! A bounded cache of parsed documents.

/// Parsed documents by query text. Frontends send the same few operations
/// over and over (codegen), and parsing is a measurable share of a small
/// request's CPU; validation and execution still run every time.
///
/// Bounded in memory, since the text is client-chosen: a parsed document
/// takes roughly fifteen times its text (measured: 256 distinct 8 KB
/// documents grew the heap by 30 MB), so only documents up to 4 KiB are
/// kept (the frontend's largest operation is under 2 KiB), at most 64 of
/// them (the frontend has a dozen), about 4 MB at worst. Full: cleared.
#[derive(Default)]
pub struct ParseCache(
    std::sync::Mutex<std::collections::HashMap<String, async_graphql::parser::types::ExecutableDocument>>,
);

impl ParseCache {
    const MAX_ENTRIES: usize = 64;
    const MAX_QUERY_BYTES: usize = 4 * 1024;

    pub fn get(&self, query: &str) -> Option<async_graphql::parser::types::ExecutableDocument> {
        self.0.lock().ok()?.get(query).cloned()
    }

    /// The type of the named operation (`operationName`, or the only one)
    /// of a document parsed before, without copying it out.
    pub fn operation_type(
        &self,
        query: &str,
        name: Option<&str>,
    ) -> Option<async_graphql::parser::types::OperationType> {
        let docs = self.0.lock().ok()?;
        super::pipeline::operation(docs.get(query)?, name).map(|(_, op)| op.node.ty)
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
