// A minimal typed fetcher for the generated operation types, and a few
// compile-time checks that the generated types say what the contract says.
// `npm run typecheck` compiles this against generated/ (after `npm run codegen`).
import type {
  ClientPanelQuery,
  ClientPanelQueryVariables,
  ClientsListQuery,
  ClientsListQueryVariables,
  ProvisionClientMutation,
  ViewerQuery,
} from '../generated/operations';
import type { UserErrorCode } from '../generated/schema';

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
  | 'GRAPHQL_VALIDATION_FAILED';

export interface GraphQLError {
  message: string;
  path?: Array<string | number>;
  extensions?: { code?: GraphQLErrorCode; [key: string]: unknown };
}

export interface GraphQLResponse<TData> {
  data?: TData | null;
  errors?: GraphQLError[];
}

/** POST one operation; the caller passes the document text (e.g. from docs/operations). */
export async function request<TData, TVariables extends Record<string, unknown>>(
  endpoint: string,
  token: string,
  query: string,
  variables: TVariables,
): Promise<GraphQLResponse<TData>> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<TData>;
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
