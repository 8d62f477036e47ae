//! The GraphQL schema: types, resolvers, loaders, and the error-code mapping.

pub mod context;
pub mod errors;
pub mod ids;
pub mod limits;
pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

use async_graphql::{SDLExportOptions, Schema};
use subscription::Subscription;

pub type AppSchema = Schema<query::Query, mutation::Mutation, Subscription>;
pub type AppSchemaBuilder = async_graphql::SchemaBuilder<query::Query, mutation::Mutation, Subscription>;

/// Build the schema with the configured limits. `env` is `None` only for
/// exporting the SDL.
pub fn build(env: Option<context::Env>, introspection: bool) -> AppSchema {
    let mut b = builder(introspection);
    if let Some(env) = env {
        b = b.data(env);
    }
    b.finish()
}

/// The schema before data is attached, as `POST`/`GET /graphql` runs it:
/// with no extension. The document limits (depth, complexity, aliases,
/// directives, expanded size) are ours, checked before async-graphql sees a
/// document (see `limits`), and so are the codes of its parse and validation
/// errors (`errors::code_of`).
///
/// Why no extension: once a schema has any, async-graphql sends every
/// field's resolution through the extension chain (a registry lookup by type
/// name, a field lookup, a boxed future per extension), whether or not an
/// extension hooks `resolve`: on the clients page, 20 clients with their
/// assignments, that is a few hundred resolutions a request (issue 15's
/// profile, BENCHMARKS.md). The one extension subscriptions need is added by
/// [`for_subscriptions`] to the schema the WebSocket runs.
pub fn builder(introspection: bool) -> AppSchemaBuilder {
    let mut b = Schema::build(query::Query, mutation::Mutation, Subscription)
        .override_output_type_description::<chrono::DateTime<chrono::Utc>>(DATE_TIME)
        .disable_suggestions();
    if !introspection {
        b = b.disable_introspection();
    }
    b
}

/// The schema a socket runs subscriptions on: [`builder`]'s, with the
/// extension that resolves each event with its own tenant transaction
/// (`subscription::PerEvent`).
pub fn for_subscriptions(b: AppSchemaBuilder) -> AppSchemaBuilder {
    b.extension(subscription::PerEvent)
}

/// The `DateTime` scalar's description. async-graphql's own ("Implement the
/// DateTime<Utc> scalar") speaks to Rust programmers; the scalar itself, and
/// its `@specifiedBy` RFC 3339 URL, stay async-graphql's.
const DATE_TIME: &str = "An instant, as an RFC 3339 date-time string. Always UTC (`+00:00`) in \
responses, at most microsecond precision: `2026-11-28T10:00:00.123456+00:00` (the fraction has \
0, 3 or 6 digits). Compare instants as dates, not as strings.";

/// The SDL that `export-schema` prints and `schema.graphql` holds: exactly
/// what introspection serves. Two things async-graphql's export leaves out
/// are put back: `@specifiedBy(url:)` on scalars (an export option), and the
/// built-in directives no type uses (`@deprecated`, `@oneOf`), which
/// introspection lists all the same. Its directive section is replaced by
/// [`DIRECTIVES`], which also describes each directive argument (the export
/// drops those descriptions). tests/api/schema.rs compares this output with
/// live introspection, element by element.
pub fn sdl() -> String {
    let sdl = build(None, true)
        .sdl_with_options(SDLExportOptions::new().sorted_fields().sorted_enum_items().include_specified_by());
    with_directives(&sdl).unwrap_or(sdl)
}

/// Every directive the schema serves, as introspection lists them (sorted
/// by name), with their descriptions and their arguments' descriptions.
const DIRECTIVES: &str = r#""""
Marks an element of a GraphQL schema as no longer supported.
"""
directive @deprecated(
	"""
	A reason for why it is deprecated, formatted using Markdown syntax
	"""
	reason: String = "No longer supported"
) on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE
"""
Directs the executor to include this field or fragment only when the `if` argument is true.
"""
directive @include(
	"""
	Included when true.
	"""
	if: Boolean!
) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
"""
Indicates that an Input Object is a OneOf Input Object (and thus requires exactly one of its field be provided)
"""
directive @oneOf on INPUT_OBJECT
"""
Directs the executor to skip this field or fragment when the `if` argument is true.
"""
directive @skip(
	"""
	Skipped when true.
	"""
	if: Boolean!
) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
"""
Provides a scalar specification URL for specifying the behavior of custom scalar types.
"""
directive @specifiedBy(
	"""
	URL that specifies the behavior of this scalar.
	"""
	url: String!
) on SCALAR
"#;

/// The exported SDL with its directive section replaced by [`DIRECTIVES`].
/// The export writes every type as a block ending in a blank line, then the
/// directives (no blank lines), then `schema { … }`; `None` when that shape
/// is not found (a changed async-graphql), and then the test comparing the
/// SDL with introspection says what differs.
fn with_directives(sdl: &str) -> Option<String> {
    let schema_at = sdl.rfind("\nschema {")? + 1;
    let directives_at = sdl[..schema_at].rfind("\n\n")? + 2;
    Some(format!("{}{DIRECTIVES}{}", &sdl[..directives_at], &sdl[schema_at..]))
}
