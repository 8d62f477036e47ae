// graphql-eslint over the checked-in schema (../schema.graphql): the
// schema-recommended and Relay rule sets, as CI runs them (`npm run
// lint:schema`, from .ci/ecosystem.sh). Every rule of both sets is on except
// where an option below says otherwise; each is a remaining exception, with
// its reason. A new exception belongs here, with its reason, or not at all.
// Descriptions are required on every element, as tests/api/schema.rs also
// checks.
import graphqlPlugin from '@graphql-eslint/eslint-plugin';

// `npm run lint:schema` runs ESLint from the repository root (ESLint 9 lints
// no file outside its base path), so paths here are relative to the root.
const schema = 'schema.graphql';

export default [
  {
    files: [schema],
    languageOptions: {
      parser: graphqlPlugin.parser,
      parserOptions: { graphQLConfig: { schema } },
    },
    plugins: { '@graphql-eslint': graphqlPlugin },
    rules: {
      ...graphqlPlugin.configs['flat/schema-recommended'].rules,
      ...graphqlPlugin.configs['flat/schema-relay'].rules,

      // Stricter than schema-recommended, which asks descriptions of types,
      // directives and root fields only: every field, argument, input field
      // and enum value needs one too (issue 14).
      '@graphql-eslint/require-description': [
        'error',
        {
          types: true,
          rootField: true,
          DirectiveDefinition: true,
          FieldDefinition: true,
          InputValueDefinition: true,
          EnumValueDefinition: true,
        },
      ],

      // Exception: objects that are not entities have no id. Every entity
      // (Client, PartnerUser, Partner, AuditEvent) has `id: ID!` and
      // implements Node. The ones below are values read only through their
      // parent, never refetched or cached on their own:
      // - `*Connection`, `*Edge`: Relay pagination wrappers;
      // - `*Payload`: mutation results;
      // - PageInfo, Count: facts about one page or one list;
      // - Viewer, ViewerPermissions: the signed-in session, one per request;
      // - ClientAssignment: a (client, user) pair read through
      //   `Client.assignments`; its user has an id;
      // - EscalationBoundary: a fixed list keyed by its `kind` enum;
      // - UserError: a message about one mutation's input;
      // - ClientEvent: one subscription message about a change, sent once
      //   and never refetched; the client it names has an id (and its
      //   clientId), and administrators read the same change as an
      //   AuditEvent.
      '@graphql-eslint/strict-id-in-types': [
        'error',
        {
          exceptions: {
            suffixes: ['Connection', 'Edge', 'Payload'],
            types: [
              'PageInfo',
              'Count',
              'Viewer',
              'ViewerPermissions',
              'ClientAssignment',
              'EscalationBoundary',
              'UserError',
              'ClientEvent',
            ],
          },
        },
      ],

      // Exception: lists that are not connections. The option would require
      // every list to be a connection's `edges`. Ours are each bounded and
      // read whole: a connection's `nodes` (the page's items without
      // cursors, as GitHub's API has it; DESIGN §4 names it), `Query.nodes`
      // (at most 100 ids, chosen by the caller), `Client.assignments` (the
      // handful of people on one client), `Query.escalationBoundaries` (a
      // fixed list), and `userErrors` / `UserError.field` (one mutation's
      // problems; a path). Connections themselves are still checked: their
      // edges, node types, cursors and PageInfo.
      '@graphql-eslint/relay-edge-types': ['error', { listTypeCanWrapOnlyEdgeType: false }],

      // Exception: `Client.clientId` and `Count.count` are binding names
      // (DESIGN §4, §11). `clientId` is the partner's own identifier, which
      // a frontend shows and puts in URLs, beside the opaque global `id`;
      // `count` is the number a `Count` holds. The rule has no per-field
      // exceptions, so it is off.
      '@graphql-eslint/no-typename-prefix': 'off',

      // Exception: the schema declares every built-in directive, as
      // introspection lists them (tests/api/schema.rs compares the two), and
      // this rule calls the ones no type uses (@deprecated, @oneOf)
      // unreachable. It can find nothing else: async-graphql builds the
      // schema from the root types and drops every type they do not reach
      // (Registry::remove_unused_types) before the SDL is exported.
      '@graphql-eslint/no-unreachable-types': 'off',
    },
  },
];
