// A minimal typed client for the generated documents, and a few compile-time
// checks that the generated types say what the contract says.
// `npm run typecheck` compiles this against generated/ (after `npm run codegen`).
//
// Requests carry the document's trusted-document id (`documentId`), never its
// text: the server looks the id up in the manifest that codegen wrote
// (docs/operations/persisted-documents.json, embedded in the server), so this
// client works under every TRUSTED_DOCUMENTS mode. README, "Trusted documents".
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  ClientPanelDocument,
  ClientsListDocument,
  ViewerDocument,
  type ClientPanelQuery,
  type ClientPanelQueryVariables,
  type ClientsListQuery,
  type ClientsListQueryVariables,
  type ProvisionClientMutation,
  type UserErrorCode,
  type ViewerQuery,
} from '../generated/graphql';

export type GraphQLErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'INTERNAL'
  | 'TIMEOUT'
  | 'SERVICE_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'PERSISTED_DOCUMENT_NOT_FOUND'
  | 'PERSISTED_DOCUMENT_REQUIRED';

export interface GraphQLError {
  message: string;
  path?: Array<string | number>;
  extensions?: { code?: GraphQLErrorCode; [key: string]: unknown };
}

export interface GraphQLResponse<TData> {
  data?: TData | null;
  errors?: GraphQLError[];
}

/** The trusted-document id codegen gave a generated document (`sha256:<hex>`). */
export function documentId(document: TypedDocumentNode<unknown, never>): string {
  const id = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof id !== 'string') {
    throw new Error('not a generated document with a trusted-document id: run `npm run codegen`');
  }
  return id;
}

/**
 * Run one generated operation by its id. POST by default; `method: 'GET'`
 * (queries only: the server refuses mutations over GET with 405) puts the id
 * and variables in the URL, `?documentId=…&variables=…`, for HTTP caches.
 */
export async function request<TData, TVariables>(
  endpoint: string,
  token: string,
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  options: { method?: 'POST' | 'GET' } = {},
): Promise<GraphQLResponse<TData>> {
  const id = documentId(document as TypedDocumentNode<unknown, never>);
  const headers = {
    accept: 'application/graphql-response+json, application/json',
    authorization: `Bearer ${token}`,
  };
  let response: Response;
  if (options.method === 'GET') {
    const url = new URL(endpoint);
    url.searchParams.set('documentId', id);
    url.searchParams.set('variables', JSON.stringify(variables ?? {}));
    response = await fetch(url, { method: 'GET', headers });
  } else {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ documentId: id, variables }),
    });
  }
  return (await response.json()) as GraphQLResponse<TData>;
}

/** Who is signed in: the first request of the page. */
export function viewer(endpoint: string, token: string): Promise<GraphQLResponse<ViewerQuery>> {
  return request(endpoint, token, ViewerDocument, {});
}

/** A page of the client list, over GET. */
export function clientsPage(
  endpoint: string,
  token: string,
  variables: ClientsListQueryVariables,
): Promise<GraphQLResponse<ClientsListQuery>> {
  return request(endpoint, token, ClientsListDocument, variables, { method: 'GET' });
}

/** The selected client's panel. */
export function clientPanel(
  endpoint: string,
  token: string,
  variables: ClientPanelQueryVariables,
): Promise<GraphQLResponse<ClientPanelQuery>> {
  return request(endpoint, token, ClientPanelDocument, variables);
}

// --- compile-time checks -------------------------------------------------

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

type PanelClient = NonNullable<ClientPanelQuery['client']>;

// DateTime is mapped to string.
assertType<Equal<PanelClient['createdAt'], string>>();
// Masked contact fields are nullable for every role.
assertType<Equal<PanelClient['contactName'], string | null>>();
assertType<Equal<PanelClient['businessEmail'], string | null>>();
// The panel query reads the viewer's permissions.
assertType<Equal<ClientPanelQuery['viewer']['permissions']['canViewContactDetails'], boolean>>();
// userErrors carry a path and a code.
type ProvisionError = ProvisionClientMutation['provisionClient']['userErrors'][number];
assertType<Equal<ProvisionError['field'], Array<string> | null>>();
assertType<Equal<ProvisionError['code'], UserErrorCode>>();

// Variables are typed: a first page of active clients, newest first.
export const firstPage: ClientsListQueryVariables = {
  filter: { search: 'dental', status: ['ACTIVE', 'ONBOARDING'] },
  orderBy: { field: 'CREATED_AT', direction: 'DESC' },
  first: 20,
};
export const panelVariables: ClientPanelQueryVariables = { clientId: 'acme-dental' };

export function contactLine(viewer: ViewerQuery['viewer'], client: PanelClient): string {
  if (!viewer.permissions.canViewContactDetails) return 'Contact details hidden for your role';
  return `${client.contactName ?? '—'} <${client.businessEmail ?? '—'}>`;
}

export function clientIds(data: ClientsListQuery): string[] {
  return data.clients.edges.map((edge) => edge.node.clientId);
}
