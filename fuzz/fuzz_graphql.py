#!/usr/bin/env python3
"""Property-based fuzzing of the partner-clients GraphQL API from schema.graphql.

Operations are generated from the checked-in SDL with hypothesis-graphql and sent
to a running server (POST /graphql, JSON) with a partner administrator's token
and with a partner user's token. Every response must satisfy:

  * the HTTP status is not 5xx, and the request neither hangs nor drops the
    connection;
  * the body is JSON (a JSON content type and a JSON object);
  * every entry of `errors` has a non-empty string `extensions.code`;
  * no error has the code INTERNAL.

Properties (one Hypothesis test each; the closing line counts them):

  ROLE:query:FIELD          valid queries of one root field       (5 fields)
  ROLE:mutation:FIELD       valid mutations of one root field     (4 fields)
  ROLE:query:shaped         one query selecting every output field (viewer,
                            escalationBoundaries, node on each Node type,
                            clients and client with their connections), with
                            mostly well-formed paging, ordering, search and ids
  ROLE:mutation:provisionClient+shaped
                            provisionClient with field-shaped inputs (near-valid
                            client ids, e-mails, IDN domains, time zones), so
                            the success and idempotent-retry paths run too
  ROLE:query:invalid        queries with one schema violation (Mode.NEGATIVE)
  ROLE:mutation:invalid     mutations with one schema violation

for ROLE in admin and user, and then, as the administrator, the hostile inputs of
DESIGN.md §7 (each example's expected outcome computed here from the contract):

  admin:hostile:page-size-defaults
                            nested connections whose page size comes from a literal,
                            a variable, a variable's default or the server default:
                            over the complexity limit (1,000) means
                            GRAPHQL_VALIDATION_FAILED with no `data`; within it, the
                            page really has that size (never the default 20)
  admin:hostile:format-characters
                            provisionClient with Unicode format characters (Cf), line
                            or paragraph separators, or nothing visible in
                            businessName / contactName: INVALID on that field, and
                            the client does not exist afterwards
  admin:hostile:operation-names
                            long (to ~14 KB) and random Unicode operation names, in the
                            document and in `operationName`; afterwards /metrics is
                            under 256 KiB, contains none of them, and every
                            `operation` label is a docs/operations/ name or `other`
  admin:hostile:fragment-doubling
                            `fragment F0 { ...F1 ...F1 } ... Fn { __typename }` up to
                            n = 40, and variants: answered within --hostile-bound-s
                            (2 s); over 2,000 expanded fields means
                            GRAPHQL_VALIDATION_FAILED with no `data`

Valid operations use argument literals or, for a
drawn subset of arguments, variables (so both literal and variable coercion
run). String, ID and Int arguments are drawn from a mix of values the server
really has (client ids, global ids, cursors, discovered at start), forged ids
and cursors, edge cases and random text.

Reproducible by default (derandomized: the same choices on every run against
the same demo data; global ids differ between demo servers); pass --seed N for
another fixed seed, or --random for a fresh seed that is printed. Bounded by
--examples per property, a per-example --deadline-ms, a --shrink-seconds cap
and a --budget-s wall-clock budget for the whole run.

Usage:
  fuzz_graphql.py --url http://127.0.0.1:8080/graphql \\
      --admin-token TOKEN --user-token TOKEN [--schema schema.graphql]
(or FUZZ_URL, FUZZ_ADMIN_TOKEN, FUZZ_USER_TOKEN in the environment)

Prints one line per property, the reproduction of every failure (query,
variables, response, curl command), and finally `fuzz: N passed, M failed`.
Exits 0 when every property passed, 1 otherwise, 2 on a setup problem.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import collections
import json
import os
import random
import re
import shlex
import shutil
import sys
import tempfile
import time
import traceback
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import graphql
import hypothesis
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_REPORTED_BODY = 4000
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


# --------------------------------------------------------------------------------------
# Violations. Each kind is raised from its own line so that Hypothesis keeps distinct
# failures apart (it tells failures apart by exception type and origin).
# --------------------------------------------------------------------------------------


class Violation(AssertionError):
    """A response broke one of the fuzzing properties."""


class ServerError5xx(Violation):
    pass


class NotJson(Violation):
    pass


class MalformedResponse(Violation):
    pass


class ErrorWithoutCode(Violation):
    pass


class InternalError(Violation):
    pass


class TransportFailure(Violation):
    pass


class SetupError(Exception):
    """The server or the tokens are not what the fuzzer needs to run."""


@dataclass
class Exchange:
    role: str
    query: str
    variables: dict[str, Any]
    operation_name: str | None = None
    status: int | None = None
    content_type: str = ""
    request_id: str = ""
    body: str = ""
    elapsed_ms: float = 0.0
    json: Any = None
    problem: str = ""


@dataclass
class PropertyResult:
    name: str
    passed: bool = False
    examples: int = 0
    seconds: float = 0.0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    codes: collections.Counter = field(default_factory=collections.Counter)
    data_responses: int = 0
    failure: Exchange | None = None
    error_text: str = ""


class Client:
    """POSTs GraphQL operations for one role and records every exchange."""

    def __init__(self, url: str, role: str, token: str, timeout_s: float):
        self.url = url
        self.role = role
        self.token = token
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
        )

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        timeout_s: float | None = None,
    ) -> Exchange:
        variables = variables or {}
        ex = Exchange(role=self.role, query=query, variables=variables, operation_name=operation_name)
        payload = json.dumps(request_body(ex), ensure_ascii=False).encode("utf-8")
        start = time.monotonic()
        try:
            resp = self.session.post(self.url, data=payload, timeout=(5, timeout_s or self.timeout_s))
        except requests.RequestException as exc:
            ex.elapsed_ms = (time.monotonic() - start) * 1000
            ex.problem = f"transport failure: {type(exc).__name__}: {exc}"
            return ex
        ex.elapsed_ms = (time.monotonic() - start) * 1000
        ex.status = resp.status_code
        ex.content_type = resp.headers.get("content-type", "")
        ex.request_id = resp.headers.get("x-request-id", "")
        ex.body = resp.content.decode("utf-8", errors="replace")
        try:
            ex.json = json.loads(resp.content)
        except ValueError:
            ex.json = None
        return ex


def request_body(ex: Exchange) -> dict[str, Any]:
    body: dict[str, Any] = {"query": ex.query, "variables": ex.variables}
    if ex.operation_name is not None:
        body["operationName"] = ex.operation_name
    return body


def check(ex: Exchange) -> None:
    """Raise a Violation when the exchange breaks a property."""
    if ex.status is None:
        raise TransportFailure(ex.problem)
    if ex.status >= 500:
        ex.problem = f"HTTP {ex.status}"
        raise ServerError5xx(ex.problem)
    ctype = ex.content_type.split(";")[0].strip().lower()
    if ctype not in ("application/json", "application/graphql-response+json") or ex.json is None:
        ex.problem = f"response is not JSON (HTTP {ex.status}, content-type {ex.content_type!r})"
        raise NotJson(ex.problem)
    if not isinstance(ex.json, dict) or not ("data" in ex.json or "errors" in ex.json):
        ex.problem = "response is not a GraphQL response object (no `data` nor `errors`)"
        raise MalformedResponse(ex.problem)
    errors = ex.json.get("errors")
    if errors is None:
        return
    if not isinstance(errors, list):
        ex.problem = "`errors` is not a list"
        raise MalformedResponse(ex.problem)
    for i, err in enumerate(errors):
        ext = err.get("extensions") if isinstance(err, dict) else None
        code = ext.get("code") if isinstance(ext, dict) else None
        if not isinstance(code, str) or not code:
            ex.problem = f"errors[{i}] has no extensions.code"
            raise ErrorWithoutCode(ex.problem)
        if code == "INTERNAL":
            ex.problem = f"errors[{i}] has code INTERNAL"
            raise InternalError(ex.problem)


# --------------------------------------------------------------------------------------
# Values: what the server has, forged look-alikes, edge cases, random text.
# --------------------------------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None


@dataclass
class Pool:
    client_ids: list[str] = field(default_factory=list)
    node_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    cursors: list[str] = field(default_factory=list)
    cursor_orders: list[str] = field(default_factory=list)
    # (ClientOrderField, OrderDirection, cursor) for clients cursors whose ordering is known
    client_cursors: list[tuple[str, str, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    admin_clients: int = 0  # the administrator's clients at the start (totalCount)


DISCOVERY_QUERY = """
query Discover($first: Int, $after: String, $order: ClientOrder) {
  viewer { role user { id email displayName } partner { id slug name } }
  clients(first: $first, after: $after, orderBy: $order) {
    pageInfo { startCursor endCursor hasNextPage }
    edges {
      cursor
      node {
        id clientId businessName webDomain timezone
        assignments { user { id email displayName } }
      }
    }
  }
}
"""

ADMIN_DISCOVERY_QUERY = """
query DiscoverAdmin($clientId: String!) {
  client(clientId: $clientId) {
    contactName businessEmail
    eligibleUsers(first: 5) { edges { cursor node { id email displayName } } }
    auditEvents(first: 5) { edges { cursor node { id } } }
  }
}
"""

EDGE_STRINGS = [
    "",
    " ",
    "   padded   ",
    "%",
    "_",
    "\\",
    "%_\\",
    "%%",
    "a" * 100,
    "a" * 101,
    "x" * 201,
    "\x00",
    "nul\x00byte",
    "tab\there",
    "line\nbreak",
    "\u202eevil",
    "\ufeffbom",
    "Ünïcödé",
    "🦀🦀",
    "'; DROP TABLE clients; --",
    '"quoted"',
    "null",
    "0",
    "-1",
    "acme",
    "ACME",
    "a-b",
    "ab",
    "a--b",
    "-leading",
    "trailing-",
    "a" * 64,
    "a" * 65,
    "example.com",
    "EXAMPLE.COM",
    "münchen.example",
    "xn--mnchen-3ya.example",
    "xn--zz",
    "xn--",
    "a..b",
    ".example",
    "example.",
    "https://example.com/path",
    "example.com:8080",
    "user@example.com",
    "1.2.3.4",
    "[::1]",
    "a" * 64 + ".example",
    ".".join(["a" * 63] * 5),
    "ex ample.com",
    "ada@northwind.example",
    "not-an-email",
    "a@b",
    "@example.com",
    "a@",
    "a@@b.example",
    "名前@例え.jp",
    "UTC",
    "Etc/UTC",
    "Europe/Berlin",
    "America/Argentina/Buenos_Aires",
    "Not/AZone",
    "../../etc/passwd",
    "+01:00",
    "2026-11-28T01:11:43Z",
    "9999-12-31T23:59:59Z",
]


def forged_ids(pool: Pool) -> list[str]:
    """Global ids of the right shape that name nothing, or something odd."""
    out = []
    for typ in ("Client", "PartnerUser", "Partner", "AuditEvent", "Bogus", ""):
        out.append(b64url(f"{typ}:{uuid.UUID(int=0)}".encode()))
        out.append(b64url(f"{typ}:{uuid.uuid5(uuid.NAMESPACE_DNS, typ)}".encode()))
        out.append(b64url(f"{typ}:not-a-uuid".encode()))
        out.append(b64url(f"{typ}:".encode()))
    out += [
        b64url(b"\xff\xfe\xfd"),
        b64url(b"Client"),
        b64url(b"Client:" + b"\x00" * 16),
        "not base64!!",
        "====",
        "Q2xpZW50Og==",
        "",
    ]
    # Real ids re-typed: a Client's uuid under PartnerUser, and the other way round.
    for real in pool.node_ids[:6]:
        raw = b64url_decode(real)
        if raw and b":" in raw:
            typ, _, rest = raw.partition(b":")
            for other in (b"Client", b"PartnerUser", b"Partner", b"AuditEvent"):
                if other != typ:
                    out.append(b64url(other + b":" + rest))
            out.append(b64url(typ + b":" + rest.upper()))
            out.append(real + "=")
            out.append(real[:-1])
    return out


def cursor_strategy(pool: Pool) -> st.SearchStrategy[str]:
    """Cursors: real ones, and forged ones that decode to odd JSON."""
    orders = sorted(
        set(pool.cursor_orders)
        | {
            "clients:BUSINESS_NAME:ASC",
            "clients:BUSINESS_NAME:DESC",
            "clients:CLIENT_ID:ASC",
            "clients:CREATED_AT:DESC",
            "eligible:EMAIL:ASC",
            "x",
        }
    )
    key_value = st.one_of(
        st.text(max_size=20),
        st.integers(),
        st.floats(allow_nan=False),
        st.none(),
        st.booleans(),
        st.sampled_from(["2026-11-28T01:11:43Z", "not-a-date", str(uuid.UUID(int=0)), "zz" * 18]),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    forged_json = st.builds(
        lambda o, k, drop, extra: json.dumps(
            {key: val for key, val in {"o": o, "k": k, **extra}.items() if key != drop}
        ),
        st.one_of(st.sampled_from(orders), st.integers(), st.none()),
        st.one_of(st.lists(key_value, max_size=4), key_value),
        st.sampled_from([None, "o", "k"]),
        st.dictionaries(st.sampled_from(["x", "o2"]), st.integers(), max_size=1),
    )
    raw = st.one_of(
        forged_json.map(str.encode),
        st.sampled_from([b"{}", b"[]", b"null", b"42", b"{", b"\xff\xfe", b""]),
        st.binary(max_size=40),
    )
    forged = st.one_of(
        raw.map(b64url),
        raw.map(lambda b: base64.standard_b64encode(b).decode()),
    )
    real = st.sampled_from(pool.cursors) if pool.cursors else st.nothing()
    return st.one_of(real, forged)


def string_values(pool: Pool, include_ids: bool) -> st.SearchStrategy[str]:
    branches = []
    if pool.client_ids:
        branches.append(st.sampled_from(pool.client_ids))
        # Near-misses of real client ids: case, padding, prefixes.
        branches.append(
            st.builds(
                lambda cid, f: f(cid),
                st.sampled_from(pool.client_ids),
                st.sampled_from(
                    [str.upper, lambda s: f" {s} ", lambda s: s[:-1], lambda s: s + "-", lambda s: s[: len(s) // 2]]
                ),
            )
        )
    if pool.texts:
        branches.append(st.sampled_from(pool.texts))
    branches.append(st.sampled_from(EDGE_STRINGS))
    branches.append(cursor_strategy(pool))
    if include_ids and (pool.node_ids or pool.user_ids):
        branches.append(st.sampled_from(pool.node_ids + pool.user_ids))
        branches.append(st.sampled_from(forged_ids(pool)))
    branches.append(st.text(max_size=30))
    return st.one_of(*branches)


def id_values(pool: Pool) -> st.SearchStrategy[graphql.ValueNode]:
    branches = []
    if pool.user_ids:
        branches.append(st.sampled_from(pool.user_ids))
    if pool.node_ids:
        branches.append(st.sampled_from(pool.node_ids))
    branches.append(st.sampled_from(forged_ids(pool)))
    branches.append(st.text(max_size=30))
    strings = st.one_of(*branches).map(lambda s: graphql.StringValueNode(value=s))
    # ID also accepts Int literals.
    ints = st.integers(I32_MIN, I32_MAX).map(lambda i: graphql.IntValueNode(value=str(i)))
    return st.one_of(strings, ints)


INT_EDGES = [0, 1, 2, 19, 20, 21, 99, 100, 101, 1000, -1, -100, I32_MAX, I32_MIN, I32_MAX - 1]


def int_values() -> st.SearchStrategy[graphql.ValueNode]:
    return st.one_of(
        st.sampled_from(INT_EDGES),
        st.integers(-3, 120),
        st.integers(I32_MIN, I32_MAX),
    ).map(lambda i: graphql.IntValueNode(value=str(i)))


def scalar_overrides(pool: Pool) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    return {
        "String": string_values(pool, include_ids=True).map(lambda s: graphql.StringValueNode(value=s)),
        "ID": id_values(pool),
        "Int": int_values(),
    }


def discover(admin: Client, user: Client) -> Pool:
    """Collect values the server really has, so generated arguments hit real rows."""
    pool = Pool()

    def add(lst: list[str], value: Any) -> None:
        if isinstance(value, str) and value not in lst:
            lst.append(value)

    admin_client_ids: list[str] = []
    plan = [
        (admin, "BUSINESS_NAME", "ASC"),
        (admin, "CLIENT_ID", "DESC"),
        (admin, "CREATED_AT", "DESC"),
        (user, "BUSINESS_NAME", "ASC"),
    ]
    for client, order, direction in plan:
        after = None
        for _page in range(2):  # 25 a page keeps the discovery query under the complexity limit
            ex = client.post(
                DISCOVERY_QUERY,
                {"first": 25, "after": after, "order": {"field": order, "direction": direction}},
            )
            check(ex)
            data = (ex.json or {}).get("data") or {}
            if not data:
                raise SetupError(f"discovery query as {client.role} returned no data: {ex.body[:500]}")
            viewer = data.get("viewer") or {}
            add(pool.node_ids, (viewer.get("user") or {}).get("id"))
            add(pool.user_ids, (viewer.get("user") or {}).get("id"))
            add(pool.node_ids, (viewer.get("partner") or {}).get("id"))
            add(pool.texts, (viewer.get("user") or {}).get("email"))
            add(pool.texts, (viewer.get("partner") or {}).get("slug"))
            conn = data.get("clients") or {}
            for edge in conn.get("edges") or []:
                add(pool.cursors, edge.get("cursor"))
                node = edge.get("node") or {}
                add(pool.node_ids, node.get("id"))
                add(pool.client_ids, node.get("clientId"))
                if client is admin:
                    admin_client_ids.append(node.get("clientId"))
                for key in ("businessName", "webDomain", "timezone"):
                    add(pool.texts, node.get(key))
                for assignment in node.get("assignments") or []:
                    add(pool.user_ids, (assignment.get("user") or {}).get("id"))
                    add(pool.texts, (assignment.get("user") or {}).get("email"))
            page_info = conn.get("pageInfo") or {}
            if not page_info.get("hasNextPage"):
                break
            after = page_info.get("endCursor")
    for cid in admin_client_ids[:5]:
        ex = admin.post(ADMIN_DISCOVERY_QUERY, {"clientId": cid})
        check(ex)
        if not ((ex.json or {}).get("data") or {}).get("client"):
            raise SetupError(f"admin discovery query returned no client: {ex.body[:500]}")
        node = ((ex.json or {}).get("data") or {}).get("client") or {}
        add(pool.texts, node.get("contactName"))
        add(pool.texts, node.get("businessEmail"))
        for conn_name in ("eligibleUsers", "auditEvents"):
            for edge in ((node.get(conn_name) or {}).get("edges")) or []:
                add(pool.cursors, edge.get("cursor"))
                add(pool.node_ids, (edge.get("node") or {}).get("id"))
                if conn_name == "eligibleUsers":
                    add(pool.user_ids, (edge.get("node") or {}).get("id"))
    ex = admin.post("query Count { clients { totalCount } }")
    check(ex)
    total = (((ex.json or {}).get("data") or {}).get("clients") or {}).get("totalCount")
    pool.admin_clients = total if isinstance(total, int) else 0
    for cursor in pool.cursors:
        raw = b64url_decode(cursor)
        try:
            order = json.loads(raw).get("o") if raw else None
        except (ValueError, AttributeError):
            order = None
        if isinstance(order, str) and order not in pool.cursor_orders:
            pool.cursor_orders.append(order)
        parts = order.split(":") if isinstance(order, str) else []
        if len(parts) == 3 and parts[0] == "clients":
            pool.client_cursors.append((parts[1], parts[2], cursor))
    return pool


# --------------------------------------------------------------------------------------
# Operations: literals hoisted into variables for a drawn subset of arguments.
# --------------------------------------------------------------------------------------


def hoist_arguments(
    schema: graphql.GraphQLSchema, doc: graphql.DocumentNode, choose: Callable[[int], bool]
) -> tuple[graphql.DocumentNode, dict[str, Any]]:
    """Replace argument literals by variables where choose(i) says so."""
    type_info = graphql.TypeInfo(schema)
    definitions: list[graphql.VariableDefinitionNode] = []
    variables: dict[str, Any] = {}
    counter = [0]

    class Hoist(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_args: Any) -> Any:
            arg = type_info.get_argument()
            index = counter[0]
            counter[0] += 1
            if arg is None or isinstance(node.value, graphql.VariableNode) or not choose(index):
                return None
            name = f"v{len(definitions)}"
            definitions.append(
                graphql.VariableDefinitionNode(
                    variable=graphql.VariableNode(name=graphql.NameNode(value=name)),
                    type=graphql.parse_type(str(arg.type)),
                    directives=(),
                )
            )
            variables[name] = graphql.value_from_ast_untyped(node.value)
            return graphql.ArgumentNode(
                name=node.name, value=graphql.VariableNode(name=graphql.NameNode(value=name))
            )

    new_doc = graphql.visit(doc, graphql.TypeInfoVisitor(type_info, Hoist()))
    if definitions:
        op = new_doc.definitions[0]
        op = graphql.OperationDefinitionNode(
            operation=op.operation,
            name=op.name,
            variable_definitions=tuple(definitions),
            directives=op.directives or (),
            selection_set=op.selection_set,
        )
        new_doc = graphql.DocumentNode(definitions=(op, *new_doc.definitions[1:]))
    return new_doc, variables


def operations(
    schema: graphql.GraphQLSchema, kind: str, fields: list[str] | None, pool: Pool, mode: Mode
) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    make = queries if kind == "query" else mutations
    if mode == Mode.NEGATIVE:
        # Invalid documents go out as generated: hypothesis-graphql's own values.
        return make(schema, fields=fields, mode=mode).map(lambda q: (q, {}))

    docs = make(schema, fields=fields, custom_scalars=scalar_overrides(pool), print_ast=lambda d: d)

    @st.composite
    def with_variables(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
        doc = draw(docs)
        how = draw(st.sampled_from(["literals", "variables", "mixed"]))
        if how == "literals":
            return graphql.print_ast(doc), {}
        flags = draw(st.lists(st.booleans(), min_size=64, max_size=64)) if how == "mixed" else None
        new_doc, variables = hoist_arguments(
            schema, doc, (lambda i: True) if flags is None else (lambda i: flags[i % len(flags)])
        )
        return graphql.print_ast(new_doc), variables

    return with_variables()


PROVISION_SHAPED = """
mutation Provision($input: ProvisionClientInput!) {
  provisionClient(input: $input) {
    created
    userErrors { field message code }
    client {
      id clientId businessName webDomain timezone status supportContactRequired
      contactName businessEmail createdAt updatedAt
      assignments { supportContact user { id } }
      auditEvents(first: 3) { totalCount nodes { id action occurredAt actor { id } } }
    }
  }
}
"""


CONNECTIONS_SHAPED = """
query Connections(
  $filter: ClientFilter, $orderBy: ClientOrder,
  $first: Int, $after: String, $last: Int, $before: String,
  $clientId: String!, $euSearch: String, $euFirst: Int, $euAfter: String,
  $aeFirst: Int, $aeAfter: String, $withTotals: Boolean!, $nodeId: ID!
) {
  viewer {
    role
    user { id displayName email role active }
    partner { id slug name }
    permissions { canProvisionClients canManageAssignments canViewContactDetails }
  }
  escalationBoundaries { kind description }
  node(id: $nodeId) {
    __typename id
    ... on Client { clientId businessName contactName businessEmail status timezone webDomain }
    ... on PartnerUser { email displayName role active }
    ... on Partner { slug name }
    ... on AuditEvent { action occurredAt actor { id } subjectUser { id } }
  }
  clients(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount @include(if: $withTotals)
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id clientId businessName webDomain status contactName businessEmail createdAt } }
  }
  client(clientId: $clientId) {
    id clientId contactName businessEmail supportContactRequired
    assignments { supportContact assignedAt assignedBy { id } user { id email active role } }
    eligibleUsers(search: $euSearch, first: $euFirst, after: $euAfter) {
      totalCount @include(if: $withTotals)
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id email displayName } }
    }
    auditEvents(first: $aeFirst, after: $aeAfter) {
      totalCount @include(if: $withTotals)
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id action occurredAt actor { id } subjectUser { id } } }
    }
  }
}
"""


def shaped_connection_variables(pool: Pool) -> st.SearchStrategy[dict[str, Any]]:
    """Paging, ordering and search arguments that are mostly well-formed, so pages are really read."""
    anything = string_values(pool, include_ids=False)
    page_size = mostly(st.none(), st.integers(0, 30), other=st.sampled_from(INT_EDGES))
    cursor = mostly(st.none(), st.sampled_from(pool.cursors) if pool.cursors else st.nothing(), other=cursor_strategy(pool))
    texts = pool.texts + pool.client_ids
    search = st.one_of(
        st.none(),
        st.builds(
            lambda t, i, j, f: f(t[min(i, j): max(i, j) + 1]),
            st.sampled_from(texts) if texts else st.just("acme"),
            st.integers(0, 30),
            st.integers(0, 30),
            st.sampled_from([str, str.upper, lambda x: f"  {x}  "]),
        ),
        anything,
    )
    order_field = st.sampled_from(["BUSINESS_NAME", "CLIENT_ID", "CREATED_AT"])
    direction = st.sampled_from(["ASC", "DESC"])
    statuses = st.lists(st.sampled_from(["PROVISIONED", "ONBOARDING", "ACTIVE", "SUSPENDED", "OFFBOARDED"]), max_size=3)

    @st.composite
    def paging(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if pool.client_cursors and draw(st.booleans()):
            # A real cursor with the ordering it came from, forwards or backwards.
            fld, dirn, cur = draw(st.sampled_from(pool.client_cursors))
            out["orderBy"] = {"field": fld, "direction": dirn}
            if draw(st.booleans()):
                out["first"], out["after"] = draw(page_size), cur
            else:
                out["last"], out["before"] = draw(page_size), cur
        else:
            out["orderBy"] = draw(st.one_of(st.none(), st.fixed_dictionaries({"field": order_field, "direction": direction})))
            which = draw(st.sampled_from(["first", "last", "both", "neither"]))
            if which in ("first", "both"):
                out["first"], out["after"] = draw(page_size), draw(cursor)
            if which in ("last", "both"):
                out["last"], out["before"] = draw(page_size), draw(cursor)
        out["filter"] = draw(
            st.one_of(st.none(), st.fixed_dictionaries({}, optional={"search": search, "status": st.one_of(st.none(), statuses)}))
        )
        out["clientId"] = draw(st.sampled_from(pool.client_ids) if pool.client_ids else anything)
        out["euSearch"] = draw(search)
        out["euFirst"] = draw(page_size)
        out["euAfter"] = draw(cursor)
        out["aeFirst"] = draw(page_size)
        out["aeAfter"] = draw(cursor)
        out["withTotals"] = draw(st.booleans())
        out["nodeId"] = draw(
            mostly(st.sampled_from(pool.node_ids + pool.user_ids) if pool.node_ids else st.nothing(),
                   other=st.sampled_from(forged_ids(pool)))
        )
        return out

    return paging()


def mostly(*valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Draw from the `valid` strategies about 6 times in 7, else from `other`."""
    good = st.one_of(*valid)
    return st.integers(0, 6).flatmap(lambda i: other if i == 6 else good)


def shaped_provision_inputs(pool: Pool) -> st.SearchStrategy[dict[str, Any]]:
    """Inputs whose fields are each mostly valid, so some provisioning succeeds."""
    from hypothesis.provisional import domains

    anything = string_values(pool, include_ids=False)
    printable = st.characters(blacklist_categories=("Cc", "Cs"))
    client_id = mostly(
        st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,20}[a-z0-9]\Z"),
        st.from_regex(r"\A[a-z0-9][a-z0-9-]{60,63}[a-z0-9]\Z"),
        st.sampled_from(pool.client_ids) if pool.client_ids else st.nothing(),
        other=anything,
    )
    name = mostly(
        st.text(printable, min_size=1, max_size=40),
        st.text(printable, min_size=195, max_size=205),
        st.sampled_from(pool.texts) if pool.texts else st.nothing(),
        other=anything,
    )
    idn_labels = st.text(
        alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-äöüßéñçøåæ中文日本語한국어ελληνικάрусский"),
        min_size=1,
        max_size=20,
    )
    domain = mostly(
        domains(),
        domains().map(str.upper),
        st.lists(idn_labels, min_size=1, max_size=4).map(".".join),
        st.builds(lambda a, b: f"{a}.{b}", idn_labels, st.sampled_from(["example", "de", "xn--p1ai", "com"])),
        other=anything,
    )
    email = mostly(st.emails(), st.emails().map(str.upper), other=anything)
    timezone = mostly(
        st.sampled_from(
            [
                "UTC",
                "Etc/UTC",
                "Europe/Berlin",
                "America/New_York",
                "America/Argentina/Buenos_Aires",
                "Asia/Kolkata",
                "Pacific/Chatham",
                "europe/berlin",
                "EST5EDT",
                "Etc/GMT+12",
                "posixrules",
                "localtime",
                "Factory",
            ]
        ),
        other=anything,
    )
    return st.fixed_dictionaries(
        {
            "clientId": client_id,
            "businessName": name,
            "webDomain": domain,
            "contactName": name,
            "businessEmail": email,
            "timezone": timezone,
        },
        optional={"supportContactRequired": st.one_of(st.booleans(), st.none())},
    )


# --------------------------------------------------------------------------------------
# Running the properties.
# --------------------------------------------------------------------------------------


def send_operation(client: Client, op: tuple[str, dict[str, Any]]) -> Exchange:
    query, variables = op
    return client.post(query, variables)


def check_operation(ex: Exchange, _op: Any) -> None:
    check(ex)


@dataclass
class Property:
    """A strategy of examples, how one is sent, and what its response must satisfy.

    The default sends a (query, variables) pair and checks the common properties
    (`check`); the hostile-input properties send their own requests and check more.
    `verify` raises a Violation, with `ex.problem` saying what broke.
    """

    name: str
    client: Client
    strategy: st.SearchStrategy[Any]
    send: Callable[[Client, Any], Exchange] = send_operation
    verify: Callable[[Exchange, Any], None] = check_operation


def curl_command(url: str, ex: Exchange) -> str:
    body = json.dumps(request_body(ex), ensure_ascii=False)
    token_var = "ADMIN_TOKEN" if ex.role == "admin" else "USER_TOKEN"
    return (
        f"curl -sS -i -X POST {shlex.quote(url)} -H \"Authorization: Bearer ${token_var}\" "
        f"-H 'Content-Type: application/json' --data-binary {shlex.quote(body)}"
    )


def run_property(prop: Property, cfg: argparse.Namespace, base_settings: settings) -> PropertyResult:
    result = PropertyResult(name=prop.name)
    last_failure: list[Exchange] = []
    last_exchange: list[Exchange] = []

    @base_settings
    @given(op=prop.strategy)
    def test(op: Any) -> None:
        ex = prop.send(prop.client, op)
        last_exchange[:] = [ex]
        result.examples += 1
        result.statuses[ex.status] += 1
        if isinstance(ex.json, dict):
            if ex.json.get("data") is not None:
                result.data_responses += 1
            for err in ex.json.get("errors") or []:
                code = ((err or {}).get("extensions") or {}).get("code") if isinstance(err, dict) else None
                result.codes[code] += 1
        try:
            prop.verify(ex, op)
        except Violation:
            last_failure.append(ex)
            raise

    if cfg.seed is not None:
        test = hypothesis.seed(cfg.seed)(test)

    start = time.monotonic()
    try:
        test()
        result.passed = True
    except BaseException as exc:  # noqa: BLE001 - report anything, including ExceptionGroups
        if isinstance(exc, KeyboardInterrupt):
            raise
        result.passed = False
        result.error_text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if last_failure:
            # Hypothesis replays the minimal failing example last.
            result.failure = last_failure[-1]
        elif last_exchange:
            # Not a response property (e.g. the deadline, or a flaky example): show the last request.
            result.failure = last_exchange[-1]
            result.failure.problem = "not a response property; the last request sent was"
    result.seconds = time.monotonic() - start
    return result


def clip(text: str, limit: int = MAX_REPORTED_BODY) -> str:
    """Long hostile documents (14 KB names) stay in the JSON report, not the log."""
    return text if len(text) <= limit else text[:limit] + f"...(truncated; {len(text)} characters in all)"


def report_failure(url: str, res: PropertyResult) -> str:
    lines = [f"--- FAILED {res.name}"]
    ex = res.failure
    if ex is None:
        lines.append(f"  error: {res.error_text[:2000]}")
        return "\n".join(lines)
    body = ex.body if len(ex.body) <= MAX_REPORTED_BODY else ex.body[:MAX_REPORTED_BODY] + "...(truncated)"
    lines += [
        f"  violation: {ex.problem}",
        f"  role: {ex.role}",
        "  query:",
        *("    " + line for line in clip(ex.query).splitlines()),
        f"  variables: {clip(json.dumps(ex.variables, ensure_ascii=False))}",
        *([f"  operationName: {clip(json.dumps(ex.operation_name, ensure_ascii=False))}"]
          if ex.operation_name is not None else []),
        f"  status: {ex.status}  content-type: {ex.content_type}  x-request-id: {ex.request_id}"
        f"  time: {ex.elapsed_ms:.0f} ms",
        f"  response: {body}",
        f"  reproduce: {clip(curl_command(url, ex), 8 * MAX_REPORTED_BODY)}",
    ]
    if res.error_text:
        first = res.error_text.splitlines()[0]
        lines.append(f"  hypothesis: {first[:300]}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Hostile input, round 2 (DESIGN.md §7): fragment doubling, page sizes from variable
# defaults, client-chosen operation names in /metrics, format characters in free text.
# The expected outcome of every example is computed here, from the contract's rules.
# --------------------------------------------------------------------------------------

EXPANDED_FIELDS_LIMIT = 2_000  # LIMIT_EXPANDED_FIELDS
COMPLEXITY_LIMIT = 1_000  # LIMIT_COMPLEXITY
DEPTH_LIMIT = 10
DEFAULT_PAGE, MAX_PAGE = 20, 100
METRICS_MAX_BYTES = 256 * 1024
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class TooSlow(Violation):
    pass


class NotRefused(Violation):
    pass


class RefusedWrongly(Violation):
    pass


class DataOnRequestError(Violation):
    pass


class WrongPage(Violation):
    pass


class MetricsTooLarge(Violation):
    pass


class MetricsLeak(Violation):
    pass


class UnknownOperationLabel(Violation):
    pass


class NotInvalid(Violation):
    pass


class CreatedAnyway(Violation):
    pass


def error_codes(ex: Exchange) -> list[Any]:
    if not isinstance(ex.json, dict):
        return []
    return [((e.get("extensions") or {}).get("code")) for e in ex.json.get("errors") or [] if isinstance(e, dict)]


def expect_request_error(ex: Exchange, code: str, why: str) -> None:
    """A refusal before execution: `code` among the errors, and no `data` entry at all (§7)."""
    if code not in error_codes(ex):
        ex.problem = f"{why}, but no {code} error came back (codes: {error_codes(ex)})"
        raise NotRefused(ex.problem)
    if "data" in ex.json:
        ex.problem = f"a {code} refusal has a `data` entry (request errors carry none)"
        raise DataOnRequestError(ex.problem)


def fragments_of(doc: graphql.DocumentNode) -> dict[str, graphql.FragmentDefinitionNode]:
    return {d.name.value: d for d in doc.definitions if isinstance(d, graphql.FragmentDefinitionNode)}


def expanded_size(doc: graphql.DocumentNode) -> tuple[int, int]:
    """(fields, selections) of the document's operations with every spread expanded.

    `fields` counts field selections, __typename included; `selections` is what the
    server counts against the limit (DESIGN §7 "fragment-expanded selections"): every
    field, spread and inline fragment, plus the value nodes of their arguments and
    directives (each directive one). Each fragment is measured once (memoised), so a
    2^40 expansion is measured in microseconds."""
    frags = fragments_of(doc)
    memo: dict[str, tuple[int, int]] = {}

    def value_size(v: graphql.ValueNode) -> int:
        if isinstance(v, graphql.ListValueNode):
            return 1 + sum(value_size(x) for x in v.values)
        if isinstance(v, graphql.ObjectValueNode):
            return 1 + sum(value_size(f.value) for f in v.fields)
        return 1

    def extras(node: Any) -> int:
        n = sum(value_size(a.value) for a in getattr(node, "arguments", None) or ())
        for d in node.directives or ():
            n += 1 + sum(value_size(a.value) for a in d.arguments or ())
        return n

    def measure(sel_set: graphql.SelectionSetNode | None) -> tuple[int, int]:
        fields = sels = 0
        for sel in sel_set.selections if sel_set else ():
            if isinstance(sel, graphql.FieldNode):
                f, s = measure(sel.selection_set)
                fields, sels = fields + 1 + f, sels + 1 + extras(sel) + s
            elif isinstance(sel, graphql.InlineFragmentNode):
                f, s = measure(sel.selection_set)
                fields, sels = fields + f, sels + 1 + extras(sel) + s
            elif isinstance(sel, graphql.FragmentSpreadNode):
                name = sel.name.value
                if name not in memo:
                    memo[name] = (0, 0)  # a cycle counts nothing; generated documents have none
                    if name in frags:
                        f, s = measure(frags[name].selection_set)
                        memo[name] = (f, s + extras(frags[name]))
                fields, sels = fields + memo[name][0], sels + 1 + extras(sel) + memo[name][1]
        return fields, sels

    totals = [measure(d.selection_set) for d in doc.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    return sum(t[0] for t in totals), sum(t[1] for t in totals)


def complexity(
    schema: graphql.GraphQLSchema, doc: graphql.DocumentNode, variables: dict[str, Any]
) -> tuple[int, int, list[int]]:
    """(cost, depth, page sizes) of the document's first operation, by the contract.

    A connection costs its page size x its per-item selection (`edges`, `nodes`) plus
    its connection-level fields once, plus 1; a plain field 1 + its children;
    __typename 0. The page size is `first` (else `last`) from a literal, the variable's
    value, the variable's default, else the server default 20, clamped to 0..100.
    Page sizes are returned unclamped. Expands fragments: call it on small documents."""
    frags = fragments_of(doc)
    op = next(d for d in doc.definitions if isinstance(d, graphql.OperationDefinitionNode))
    defaults = {
        v.variable.name.value: graphql.value_from_ast_untyped(v.default_value)
        for v in op.variable_definitions or ()
        if v.default_value is not None
    }
    pages: list[int] = []
    deepest = [0]

    def page(f: graphql.FieldNode) -> int | None:
        for arg_name in ("first", "last"):
            arg = next((a for a in f.arguments or () if a.name.value == arg_name), None)
            if arg is None:
                continue
            if isinstance(arg.value, graphql.IntValueNode):
                return int(arg.value.value)
            if isinstance(arg.value, graphql.VariableNode):
                name = arg.value.name.value
                for source in (variables, defaults):
                    if isinstance(source.get(name), int):
                        return source[name]
        return None

    def selection(sel_set: graphql.SelectionSetNode | None, parent: Any, depth: int) -> tuple[int, int]:
        total = items = 0
        for sel in sel_set.selections if sel_set else ():
            if isinstance(sel, graphql.FieldNode):
                c = field_cost(sel, parent, depth)
                total += c
                items += c if sel.name.value in ("edges", "nodes") else 0
                continue
            if isinstance(sel, graphql.InlineFragmentNode):
                inner, cond = sel.selection_set, sel.type_condition
            else:
                frag = frags[sel.name.value]
                inner, cond = frag.selection_set, frag.type_condition
            t, i = selection(inner, schema.get_type(cond.name.value) if cond else parent, depth)
            total, items = total + t, items + i
        return total, items

    def field_cost(f: graphql.FieldNode, parent: Any, depth: int) -> int:
        if f.name.value == "__typename":
            return 0
        deepest[0] = max(deepest[0], depth)
        fdef = getattr(parent, "fields", {}).get(f.name.value)
        rtype = graphql.get_named_type(fdef.type) if fdef else None
        total, items = selection(f.selection_set, rtype, depth + 1)
        if rtype is None or not rtype.name.endswith("Connection"):
            return total + 1
        raw = page(f)
        size = DEFAULT_PAGE if raw is None else min(max(raw, 0), MAX_PAGE)
        pages.append(DEFAULT_PAGE if raw is None else raw)
        return size * items + (total - items) + 1

    cost, _ = selection(op.selection_set, schema.query_type, 1)
    return cost, deepest[0], pages


# --- 1. Fragment doubling -------------------------------------------------------------

# `...Missing` names no fragment: a chain ending in it has no field at all, and
# async-graphql's validation expanded it for seconds before reporting it.
QUERY_LEAVES = [
    "__typename", "viewer { role }", "__typename viewer { partner { slug } }", "escalationBoundaries { kind }",
    "...Missing",
]
CLIENT_LEAVES = ["__typename", "id", "id clientId", "clientId status", "...Missing"]


@st.composite
def doubling_documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """`query { ...F0 } fragment F0 on Query { ...F1 ...F1 } ... fragment Fn on Query { __typename }`
    and variants: tripling, inline fragments, a field beside the spreads, spreads inside
    a connection's items, definitions in reverse order."""
    branch = draw(st.sampled_from([2, 2, 3]))
    n = draw(st.integers(0, 40 if branch == 2 else 26))
    in_connection = draw(st.booleans())
    on = "Client" if in_connection else "Query"
    leaf = draw(st.sampled_from(CLIENT_LEAVES if in_connection else QUERY_LEAVES))
    style = draw(st.sampled_from(["spread", "inline", "typed-inline", "mixed"]))
    beside = draw(st.booleans())
    defs = []
    for i in range(n):
        spread = f"...F{i + 1}"
        forms = {
            "spread": [spread] * 3,
            "inline": [f"... {{ {spread} }}"] * 3,
            "typed-inline": [f"... on {on} {{ {spread} }}"] * 3,
            "mixed": [spread, f"... on {on} {{ {spread} }}", f"... {{ {spread} }}"],
        }[style][:branch]
        defs.append(f"fragment F{i} on {on} {{ {'__typename ' if beside else ''}{' '.join(forms)} }}")
    defs.append(f"fragment F{n} on {on} {{ {leaf} }}")
    if draw(st.booleans()):
        defs.reverse()
    if in_connection:
        head = f"query {{ clients(first: {draw(st.integers(1, 3))}) {{ nodes {{ ...F0 }} }} }}"
    else:
        head = "query { ...F0 }"
    return "\n".join([head, *defs]), {}


def verify_doubling(schema: graphql.GraphQLSchema, bound_s: float) -> Callable[[Exchange, Any], None]:
    def verify(ex: Exchange, op: tuple[str, dict[str, Any]]) -> None:
        if ex.status is None or ex.elapsed_ms > bound_s * 1000:
            ex.problem = f"no answer within {bound_s:g} s ({ex.elapsed_ms:.0f} ms; {ex.problem or 'answered late'})"
            raise TooSlow(ex.problem)
        check(ex)
        doc = graphql.parse(op[0])
        fields, selections = expanded_size(doc)
        if fields > EXPANDED_FIELDS_LIMIT:
            why = f"the document expands to {fields} fields (limit {EXPANDED_FIELDS_LIMIT})"
            expect_request_error(ex, VALIDATION_FAILED, why)
            return
        if "...Missing" in op[0]:
            expect_request_error(ex, VALIDATION_FAILED, "a spread names a fragment that does not exist")
            return
        cost, depth, _ = complexity(schema, doc, op[1])
        if selections <= EXPANDED_FIELDS_LIMIT and cost <= COMPLEXITY_LIMIT and depth <= DEPTH_LIMIT:
            if VALIDATION_FAILED in error_codes(ex) or not isinstance(ex.json.get("data"), dict):
                ex.problem = (f"refused a document within every limit "
                              f"({selections} selections, cost {cost}, depth {depth})")
                raise RefusedWrongly(ex.problem)

    return verify


# --- 2. Page sizes from variables and their defaults ----------------------------------

INNER_CONNECTIONS = {
    "eligibleUsers": ["id", "email", "displayName", "__typename"],
    "auditEvents": ["id", "action", "occurredAt"],
}


@st.composite
def page_size_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """`query($n: Int = K) { clients(first: $n) { nodes { eligibleUsers(first: $n) { nodes { id } } } } }`
    with K in 1..100, with or without a value for $n; and variants: one variable for each
    connection, a literal, no page argument, `last`, edges instead of nodes,
    connection-level fields, audit events instead of eligible users."""
    var_defs: list[str] = []
    variables: dict[str, Any] = {}
    supplied = st.one_of(st.integers(1, 100), st.sampled_from([0, 101, 150, 1000]))

    def source(var: str) -> str | None:
        kind = draw(st.sampled_from(["default", "default", "default", "default+value", "value", "literal", "absent"]))
        if kind == "literal":
            return str(draw(st.integers(1, 100)))
        if kind == "absent":
            return None
        if kind == "value":
            var_defs.append(f"${var}: Int")
        else:
            var_defs.append(f"${var}: Int = {draw(st.integers(1, 100))}")
        if kind == "value" or (kind == "default+value" and draw(st.booleans())):
            variables[var] = draw(supplied)
        return f"${var}"

    extras = st.lists(st.sampled_from(["pageInfo { hasNextPage endCursor }", "totalCount"]), unique=True, max_size=2)

    def connection(name: str, arg: str, page: str | None, leaves: str) -> str:
        """`name(arg: page) { <connection-level fields> nodes { leaves } }`, or edges."""
        per_item = draw(st.sampled_from([f"nodes {{ {leaves} }}", f"edges {{ cursor node {{ {leaves} }} }}"]))
        args = f"({arg}: {page})" if page else ""
        return f"{name}{args} {{ {' '.join([*draw(extras), per_item])} }}"

    if draw(st.booleans()):  # the canonical shape: one variable with a default, used twice
        outer = inner = source("n")
    else:
        outer, inner = source("a"), source("b")
    inner_name = draw(st.sampled_from(sorted(INNER_CONNECTIONS)))
    leaves = draw(st.lists(st.sampled_from(INNER_CONNECTIONS[inner_name]), min_size=1, max_size=3, unique=True))
    inner_text = connection(inner_name, "first", inner, " ".join(leaves))
    outer_text = connection("clients", draw(st.sampled_from(["first", "first", "last"])), outer, "id " + inner_text)
    head = f"query({', '.join(var_defs)})" if var_defs else "query"
    return f"{head} {{ {outer_text} }}", variables


def verify_page_sizes(schema: graphql.GraphQLSchema, pool: "Pool") -> Callable[[Exchange, Any], None]:
    def verify(ex: Exchange, op: tuple[str, dict[str, Any]]) -> None:
        check(ex)
        cost, _, pages = complexity(schema, graphql.parse(op[0]), op[1])
        if cost > COMPLEXITY_LIMIT:
            why = f"the estimated cost is {cost} (limit {COMPLEXITY_LIMIT}; page sizes {pages})"
            expect_request_error(ex, VALIDATION_FAILED, why)
            return
        if any(p < 1 or p > MAX_PAGE for p in pages):
            return  # a page size out of range may be refused at execution (BAD_USER_INPUT)
        if VALIDATION_FAILED in error_codes(ex):
            ex.problem = f"refused although the estimated cost is {cost} (limit {COMPLEXITY_LIMIT}; page sizes {pages})"
            raise RefusedWrongly(ex.problem)
        conn = ((ex.json.get("data") or {}).get("clients")) or {}
        got = conn.get("nodes", conn.get("edges"))
        want = min(pages[-1], pool.admin_clients)  # the outer connection is measured last
        if not isinstance(got, list) or not want <= len(got) <= pages[-1]:
            ex.problem = (f"the clients page has {len(got) if isinstance(got, list) else 'no'} items; "
                          f"its page size is {pages[-1]} and the partner has {pool.admin_clients} clients")
            raise WrongPage(ex.problem)

    return verify


# --- 3. Operation names and /metrics --------------------------------------------------

IDENT_HEAD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
IDENT_TAIL = IDENT_HEAD + "0123456789"
# Code point ranges for random names: ASCII, controls, Latin, scripts, punctuation and
# format characters, CJK, specials, emoji, anything astral (surrogates excluded).
NAME_RANGES = [(0x20, 0x7E), (0x00, 0x1F), (0xA0, 0x2FF), (0x370, 0x52F), (0x2000, 0x206F),
               (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xFE00, 0xFFFD), (0x1F300, 0x1FAFF), (0x10000, 0x10FFFF)]
LABEL_RE = re.compile(r'(?<![A-Za-z_])operation="((?:[^"\\]|\\.)*)"')


def random_name(rnd: random.Random, length: int, identifier: bool) -> str:
    if identifier:
        return rnd.choice(IDENT_HEAD) + "".join(rnd.choices(IDENT_TAIL, k=length - 1))
    return "".join(chr(rnd.randint(*rnd.choice(NAME_RANGES))) for _ in range(length))


@st.composite
def operation_name_cases(draw: st.DrawFn, known: list[str]) -> tuple[str, str | None, list[str]]:
    """(document, operationName, names sent): long or random names in the document and
    in `operationName`, up to ~14 KB, and look-alikes of the known names."""
    length = draw(st.one_of(st.integers(1, 64), st.integers(65, 2_000), st.integers(2_000, 14_000),
                            st.sampled_from([16, 255, 256, 4_096, 14_000])))
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["document", "document+operationName", "unicode-document", "operationName",
                                 "operationName-of-two", "look-alike"]))
    ident, text = random_name(rnd, length, True), random_name(rnd, length, False)
    if kind == "document":
        return f"query {ident} {{ __typename }}", None, [ident]
    if kind == "document+operationName":
        return f"query {ident} {{ __typename }}", ident, [ident]
    if kind == "unicode-document":
        return f"query {text} {{ __typename }}", draw(st.sampled_from([None, text])), [text]
    if kind == "operationName":
        return draw(st.sampled_from(["{ __typename }", "query Q { __typename }"])), text, [text]
    if kind == "operationName-of-two":
        name = draw(st.sampled_from([ident, text]))
        return f"query {ident[:64]} {{ __typename }} query Other {{ viewer {{ role }} }}", name, [name, ident[:64]]
    base = draw(st.sampled_from(known or ["ClientsList"]))
    suffix = draw(st.sampled_from([ident, text[:8], "\u200b", "\n", '"', "\\", " ", "_" * 16]))
    name = draw(st.sampled_from([base + suffix, base.lower(), base.upper() + suffix]))
    in_doc = name if all(c in IDENT_TAIL for c in name) else "Q"
    return f"query {in_doc} {{ __typename }}", name, [name]


def send_named(client: Client, case: tuple[str, str | None, list[str]]) -> Exchange:
    return client.post(case[0], {}, operation_name=case[1])


def prom_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def operation_labels(metrics_text: str) -> set[str]:
    unescape = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}
    return {
        re.sub(r"\\.", lambda m: unescape.get(m.group(0), m.group(0)), raw)
        for raw in LABEL_RE.findall(metrics_text)
    }


def verify_metrics(metrics_url: str, known: list[str]) -> Callable[[Exchange, Any], None]:
    sent: list[str] = []  # every long name sent by this property so far
    session = requests.Session()
    allowed = set(known) | {"other"}

    def verify(ex: Exchange, case: tuple[str, str | None, list[str]]) -> None:
        check(ex)
        sent.extend(n for n in case[2] if len(n) >= 16 and n not in allowed and n not in sent)
        try:
            resp = session.get(metrics_url, timeout=10)
        except requests.RequestException as exc:
            ex.problem = f"GET {metrics_url} failed afterwards: {type(exc).__name__}: {exc}"
            raise TransportFailure(ex.problem) from None
        if resp.status_code != 200:
            ex.problem = f"GET {metrics_url} answered HTTP {resp.status_code} afterwards"
            raise MalformedResponse(ex.problem)
        if len(resp.content) > METRICS_MAX_BYTES:
            ex.problem = f"/metrics is {len(resp.content)} bytes afterwards (at most {METRICS_MAX_BYTES})"
            raise MetricsTooLarge(ex.problem)
        text = resp.content.decode("utf-8", errors="replace")
        for name in sent:  # a 16-character prefix catches truncated labels too
            probe = name[:16]
            if any(probe in k for k in allowed):
                continue  # a look-alike of a known name: the label check below covers it
            if probe in text or prom_escape(probe) in text:
                shown = clip(json.dumps(name, ensure_ascii=False), 120)
                ex.problem = f"/metrics contains a sent operation name: {shown}"
                raise MetricsLeak(ex.problem)
        bad = sorted(label for label in operation_labels(text) if label not in allowed)
        if bad:
            shown = ", ".join(clip(json.dumps(b, ensure_ascii=False), 60) for b in bad[:6])
            ex.problem = (f"/metrics has {len(bad)} `operation` label value(s) that are neither a known operation "
                          f"(docs/operations/) nor `other`: {shown}")
            raise UnknownOperationLabel(ex.problem)

    return verify


def known_operations(directory: str) -> list[str]:
    names: list[str] = []
    for entry in sorted(os.listdir(directory)):
        if entry.endswith(".graphql"):
            with open(os.path.join(directory, entry), encoding="utf-8") as fh:
                doc = graphql.parse(fh.read())
            ops = [d for d in doc.definitions if isinstance(d, graphql.OperationDefinitionNode)]
            names += [op.name.value for op in ops if op.name]
    return names


# --- 4. Format characters in free text ------------------------------------------------

FORMAT_CHARS = ["\u200b", "\ufeff", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f",
                "\u200c", "\u200d", "\u2060", "\u00ad", "\u061c", "\u180e", "\u206a", "\U000e0001"]
SEPARATORS = ["\u2028", "\u2029"]
SPACES = [" ", "\u00a0", "\u2003", "\u3000"]
PROVISION_HOSTILE = """
mutation ProvisionHostile($input: ProvisionClientInput!) {
  provisionClient(input: $input) { created userErrors { field message code } client { id clientId } }
}
"""
LOOKUP_CLIENT = "query Lookup($clientId: String!) { client(clientId: $clientId) { id } }"


@st.composite
def format_character_values(draw: st.DrawFn) -> dict[str, str]:
    """businessName and/or contactName with a Unicode format character (Cf) anywhere, a
    line or paragraph separator inside, or nothing visible at all."""
    out = {}
    visible = st.text(st.characters(categories=["L", "N"]), min_size=2, max_size=30)
    for name in draw(st.sampled_from([["businessName"], ["contactName"], ["businessName", "contactName"]])):
        kind = draw(st.sampled_from(["format", "format", "separator", "invisible"]))
        if kind == "invisible":
            chars = draw(st.lists(st.sampled_from(FORMAT_CHARS + SEPARATORS + SPACES), min_size=1, max_size=6))
            out[name] = "".join(chars)
            continue
        base = draw(visible)
        if kind == "format":
            char = draw(st.one_of(st.sampled_from(FORMAT_CHARS), st.characters(categories=["Cf"])))
            at = draw(st.integers(0, len(base)))
        else:  # inside the text: trimming may drop a separator at either end
            char, at = draw(st.sampled_from(SEPARATORS)), draw(st.integers(1, len(base) - 1))
        out[name] = base[:at] + char + base[at:]
    return out


def send_format_characters(client: Client, values: dict[str, str]) -> Exchange:
    # A fresh clientId every time, so a replayed example never meets its own earlier client.
    cid = f"fz-{uuid.uuid4().hex[:20]}"
    base = {"clientId": cid, "businessName": "Fuzz Format Co", "webDomain": "format.fuzz.example",
            "contactName": "Fay Fuzz", "businessEmail": "fay@format.fuzz.example", "timezone": "UTC"}
    return client.post(PROVISION_HOSTILE, {"input": {**base, **values}})


def verify_format_characters(client: Client) -> Callable[[Exchange, Any], None]:
    def verify(ex: Exchange, values: dict[str, str]) -> None:
        check(ex)
        data = ex.json.get("data")
        payload = data.get("provisionClient") if isinstance(data, dict) else None
        if not isinstance(payload, dict):
            ex.problem = "no provisionClient payload"
            raise MalformedResponse(ex.problem)
        errs = [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
        for name, value in values.items():
            if not any(e.get("code") == "INVALID" and e.get("field") == ["input", name] for e in errs):
                points = " ".join(f"U+{ord(c):04X}" for c in value if not c.isalnum())
                ex.problem = (f"input.{name} with {points} got no INVALID userError on "
                              f"[\"input\",\"{name}\"] (userErrors: {errs})")
                raise NotInvalid(ex.problem)
        cid = ex.variables["input"]["clientId"]
        look = client.post(LOOKUP_CLIENT, {"clientId": cid})
        found = ((look.json or {}).get("data") or {}).get("client") if isinstance(look.json, dict) else None
        if payload.get("created") or payload.get("client") is not None or found is not None:
            ex.problem = (f"refused input, yet client {cid} was created "
                          f"(created={payload.get('created')}, found={found})")
            raise CreatedAnyway(ex.problem)

    return verify


def hostile_properties(
    schema: graphql.GraphQLSchema, admin: Client, pool: "Pool", known: list[str], metrics_url: str, bound_s: float
) -> list[Property]:
    """In this order: /metrics is read after everything else has been sent, and fragment
    doubling runs last, since a server without the expansion limit may stay busy."""
    return [
        Property("admin:hostile:page-size-defaults", admin, page_size_cases(), verify=verify_page_sizes(schema, pool)),
        Property("admin:hostile:format-characters", admin, format_character_values(),
                 send=send_format_characters, verify=verify_format_characters(admin)),
        Property("admin:hostile:operation-names", admin, operation_name_cases(known),
                 send=send_named, verify=verify_metrics(metrics_url, known)),
        Property("admin:hostile:fragment-doubling", admin, doubling_documents(),
                 send=lambda c, op: c.post(op[0], op[1], timeout_s=bound_s + 1),
                 verify=verify_doubling(schema, bound_s)),
    ]


def build_properties(
    schema: graphql.GraphQLSchema, clients: dict[str, Client], pool: Pool, only: list[str], hostile: list[Property]
) -> list[Property]:
    props: list[Property] = []
    assert schema.query_type is not None and schema.mutation_type is not None
    for role, client in clients.items():
        for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
            for field_name in root.fields:
                props.append(
                    Property(
                        f"{role}:{kind}:{field_name}",
                        client,
                        operations(schema, kind, [field_name], pool, Mode.POSITIVE),
                    )
                )
            if kind == "query":
                props.append(
                    Property(
                        f"{role}:query:shaped",
                        client,
                        shaped_connection_variables(pool).map(lambda v: (CONNECTIONS_SHAPED, v)),
                    )
                )
            if kind == "mutation":
                props.append(
                    Property(
                        f"{role}:mutation:provisionClient+shaped",
                        client,
                        shaped_provision_inputs(pool).map(lambda i: (PROVISION_SHAPED, {"input": i})),
                    )
                )
        for kind in ("query", "mutation"):
            props.append(Property(f"{role}:{kind}:invalid", client, operations(schema, kind, None, pool, Mode.NEGATIVE)))
    props += hostile
    if only:
        props = [p for p in props if any(word in p.name for word in only)]
    return props


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=os.environ.get("FUZZ_URL", "http://127.0.0.1:8080/graphql"))
    p.add_argument("--admin-token", default=os.environ.get("FUZZ_ADMIN_TOKEN"))
    p.add_argument("--user-token", default=os.environ.get("FUZZ_USER_TOKEN"))
    p.add_argument("--schema", default=os.path.join(REPO_ROOT, "schema.graphql"))
    p.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", "25")),
                   help="examples per property (default 25)")
    p.add_argument("--deadline-ms", type=int, default=10_000, help="per-example deadline (default 10000)")
    p.add_argument("--timeout-s", type=float, default=20.0, help="HTTP read timeout (default 20)")
    p.add_argument("--shrink-seconds", type=int, default=20,
                   help="cap on shrinking a failure, per property; 0 disables shrinking (default 20)")
    p.add_argument("--budget-s", type=float, default=float(os.environ.get("FUZZ_BUDGET_S", "150")),
                   help="wall-clock budget for all properties; properties not started in time fail (default 150)")
    seed = p.add_mutually_exclusive_group()
    seed.add_argument("--seed", type=int, default=None, help="run with this fixed seed instead of the derandomized default")
    seed.add_argument("--random", action="store_true", help="a fresh random seed, printed so the run can be repeated")
    p.add_argument("-k", dest="only", action="append", default=[], help="run only properties whose name contains this")
    p.add_argument("--report", default=os.environ.get("FUZZ_REPORT"), help="write a JSON report here")
    p.add_argument("--operations", default=os.path.join(REPO_ROOT, "docs", "operations"),
                   help="directory of the known operations (*.graphql): the allowed `operation` metric labels")
    p.add_argument("--metrics-url", default=None, help="the server's /metrics (default: /metrics next to --url)")
    p.add_argument("--hostile-bound-s", type=float, default=2.0,
                   help="every fragment-doubling document must be answered within this (default 2)")
    p.add_argument("--verbose", action="store_true", help="print per-property status and error-code counts")
    cfg = p.parse_args(argv)
    if not cfg.admin_token or not cfg.user_token:
        p.error("--admin-token and --user-token (or FUZZ_ADMIN_TOKEN, FUZZ_USER_TOKEN) are required")
    return cfg


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    run_start = time.monotonic()
    if cfg.random:
        # Fresh randomness, but printed, so a failing run can be repeated with --seed.
        cfg.seed = random.SystemRandom().getrandbits(32)

    # Keep Hypothesis' files out of the repository.
    home = tempfile.mkdtemp(prefix="fuzz-hypothesis-")
    atexit.register(shutil.rmtree, home, True)
    try:
        hypothesis.configuration.set_hypothesis_home_dir(home)
    except AttributeError:
        pass
    if cfg.shrink_seconds > 0:
        try:
            from hypothesis.internal.conjecture import engine as _engine

            _engine.MAX_SHRINKING_SECONDS = cfg.shrink_seconds
        except (ImportError, AttributeError):
            pass

    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    if cfg.shrink_seconds > 0:
        phases.append(Phase.shrink)
    base_settings = settings(
        max_examples=cfg.examples,
        deadline=cfg.deadline_ms,
        derandomize=cfg.seed is None,
        database=None,
        phases=phases,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )

    with open(cfg.schema, encoding="utf-8") as fh:
        schema = graphql.build_schema(fh.read())

    clients = {
        "admin": Client(cfg.url, "admin", cfg.admin_token, cfg.timeout_s),
        "user": Client(cfg.url, "user", cfg.user_token, cfg.timeout_s),
    }

    # Setup: both tokens must be what they claim, or the fuzzing would test only 401s.
    expected = {"admin": "PARTNER_ADMIN", "user": "PARTNER_USER"}
    for role, client in clients.items():
        ex = client.post("{ viewer { role } }")
        role_seen = (((ex.json or {}).get("data") or {}).get("viewer") or {}).get("role") if isinstance(ex.json, dict) else None
        if role_seen != expected[role]:
            print(f"fuzz: setup failed: the {role} token is not a {expected[role]} (HTTP {ex.status}: {ex.body[:300]})")
            print("fuzz: 0 passed, 1 failed")
            return 2
    try:
        pool = discover(clients["admin"], clients["user"])
    except (Violation, SetupError) as exc:
        print(f"fuzz: setup failed: discovery: {type(exc).__name__}: {exc}")
        print("fuzz: 0 passed, 1 failed")
        return 2

    try:
        known = known_operations(cfg.operations)
    except (OSError, graphql.GraphQLError) as exc:
        print(f"fuzz: setup failed: reading the known operations in {cfg.operations}: {exc}")
        print("fuzz: 0 passed, 1 failed")
        return 2
    metrics_url = cfg.metrics_url or urllib.parse.urljoin(cfg.url, "/metrics")
    hostile = hostile_properties(schema, clients["admin"], pool, known, metrics_url, cfg.hostile_bound_s)
    props = build_properties(schema, clients, pool, cfg.only, hostile)
    seed_text = "derandomized" if cfg.seed is None else f"seed {cfg.seed}{' (random; rerun with --seed)' if cfg.random else ''}"
    print(
        f"fuzz: {len(props)} properties x {cfg.examples} examples against {cfg.url} ({seed_text}, hypothesis "
        f"{hypothesis.__version__}); pool: {len(pool.client_ids)} client ids, {len(pool.node_ids)} node ids, "
        f"{len(pool.user_ids)} user ids, {len(pool.cursors)} cursors",
        flush=True,
    )

    results: list[PropertyResult] = []
    for prop in props:
        elapsed = time.monotonic() - run_start
        if elapsed > cfg.budget_s:
            res = PropertyResult(name=prop.name, passed=False,
                                 error_text=f"not run: time budget of {cfg.budget_s:.0f}s used up")
            results.append(res)
            print(f"FAIL {prop.name}: {res.error_text}", flush=True)
            continue
        res = run_property(prop, cfg, base_settings)
        results.append(res)
        statuses = ",".join(f"{k}:{v}" for k, v in sorted(res.statuses.items(), key=lambda kv: str(kv[0])))
        line = (f"{'ok  ' if res.passed else 'FAIL'} {res.name}: {res.examples} requests in {res.seconds:.1f}s "
                f"(HTTP {statuses}; {res.data_responses} with data)")
        if cfg.verbose:
            codes = ",".join(f"{k}:{v}" for k, v in res.codes.most_common())
            line += f" codes[{codes}]"
        print(line, flush=True)

    failed = [r for r in results if not r.passed]
    for res in failed:
        print(report_failure(cfg.url, res), flush=True)

    total_requests = sum(r.examples for r in results)
    limited = sum(r.statuses.get(429, 0) for r in results)
    if limited:
        print(f"fuzz: warning: {limited} responses were HTTP 429 (rate limited), so they tested little; "
              "start the server with higher LIMIT_REQUESTS_PER_MINUTE / LIMIT_MUTATIONS_PER_MINUTE")
    total_s = time.monotonic() - run_start
    if cfg.report:
        os.makedirs(os.path.dirname(os.path.abspath(cfg.report)), exist_ok=True)
        with open(cfg.report, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "url": cfg.url,
                    "seed": cfg.seed,
                    "derandomized": cfg.seed is None,
                    "examples_per_property": cfg.examples,
                    "requests": total_requests,
                    "seconds": round(total_s, 1),
                    "properties": [
                        {
                            "name": r.name,
                            "passed": r.passed,
                            "requests": r.examples,
                            "seconds": round(r.seconds, 2),
                            "statuses": {str(k): v for k, v in r.statuses.items()},
                            "error_codes": {str(k): v for k, v in r.codes.items()},
                            "error": r.error_text or None,
                            "failure": None
                            if r.failure is None
                            else {
                                "violation": r.failure.problem,
                                "role": r.failure.role,
                                "query": r.failure.query,
                                "variables": r.failure.variables,
                                "operation_name": r.failure.operation_name,
                                "status": r.failure.status,
                                "request_id": r.failure.request_id,
                                "response": r.failure.body[:MAX_REPORTED_BODY],
                                "curl": curl_command(cfg.url, r.failure),
                            },
                        }
                        for r in results
                    ],
                },
                fh,
                indent=2,
                ensure_ascii=False,
            )
    print(f"fuzz: {total_requests} requests in {total_s:.1f}s")
    print(f"fuzz: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
