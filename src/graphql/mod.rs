//! The GraphQL schema: types, resolvers, loaders, and the error-code mapping.

pub mod context;
pub mod errors;
pub mod ids;
pub mod limits;
pub mod mutation;
pub mod query;
pub mod types;

use crate::config::Limits;
use async_graphql::{EmptySubscription, SDLExportOptions, Schema};

pub type AppSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;
pub type AppSchemaBuilder = async_graphql::SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription>;

/// Build the schema with the configured limits. `env` is `None` only for
/// exporting the SDL.
pub fn build(limits: &Limits, env: Option<context::Env>, introspection: bool) -> AppSchema {
    let mut b = builder(limits, introspection);
    if let Some(env) = env {
        b = b.data(env);
    }
    b.finish()
}

/// The schema with its limits and extensions, before data is attached.
pub fn builder(limits: &Limits, introspection: bool) -> AppSchemaBuilder {
    // Depth, complexity, aliases and directives: see `limits` (one walk, our rules).
    let mut b = Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .disable_suggestions()
        .extension(errors::DocumentRules(std::sync::Arc::new(limits::Rules::new(limits, introspection))));
    if !introspection {
        b = b.disable_introspection();
    }
    b
}

/// The SDL that `export-schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    build(&Limits::DEFAULT, None, true).sdl_with_options(SDLExportOptions::new().sorted_fields().sorted_enum_items())
}
