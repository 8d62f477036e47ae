//! The GraphQL schema: types, resolvers, loaders, and the error-code mapping.

pub mod context;
pub mod errors;
pub mod ids;
pub mod limits;
pub mod mutation;
pub mod query;
pub mod types;

use async_graphql::{EmptySubscription, SDLExportOptions, Schema};

pub type AppSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;
pub type AppSchemaBuilder = async_graphql::SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription>;

/// Build the schema with the configured limits. `env` is `None` only for
/// exporting the SDL.
pub fn build(env: Option<context::Env>, introspection: bool) -> AppSchema {
    let mut b = builder(introspection);
    if let Some(env) = env {
        b = b.data(env);
    }
    b.finish()
}

/// The schema with its extensions, before data is attached. The document
/// limits (depth, complexity, aliases, directives, expanded size) are ours,
/// checked before async-graphql sees a document: see `limits`.
pub fn builder(introspection: bool) -> AppSchemaBuilder {
    let mut b = Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .disable_suggestions()
        .extension(errors::ValidationCodes);
    if !introspection {
        b = b.disable_introspection();
    }
    b
}

/// The SDL that `export-schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    build(None, true).sdl_with_options(SDLExportOptions::new().sorted_fields().sorted_enum_items())
}
