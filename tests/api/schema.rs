//! The schema contract: schema.graphql is what `export-schema` prints, it is
//! exactly what introspection serves, and every element in it is described.

use crate::helpers::{spawn_app, Backend};
use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{ConstDirective, InputValueDefinition, TypeKind, TypeSystemDefinition};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const CHECKED_IN: &str = include_str!("../../schema.graphql");

#[test]
fn schema_graphql_matches_export_schema() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_partner-clients"))
        .arg("export-schema")
        .output()
        .expect("run partner-clients export-schema");
    assert!(out.status.success(), "export-schema failed: {}", String::from_utf8_lossy(&out.stderr));
    let exported = String::from_utf8(out.stdout).unwrap();
    let checked_in = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        exported == checked_in,
        "schema.graphql is out of date with the code. Regenerate it with:\n\n    cargo run -- export-schema > schema.graphql\n\nand review the diff: other teams generate clients from it."
    );
}

/// Every element of the schema, keyed by what it is (its kind, coordinate,
/// type, default, directives), with its description. Two schemas with equal
/// maps serve the same introspection.
type Elements = BTreeMap<String, Option<String>>;

/// The elements of an SDL document, as async-graphql's own parser reads it.
fn sdl_elements(sdl: &str) -> Elements {
    let doc = parse_schema(sdl).expect("schema.graphql parses");
    let mut out = Elements::new();
    let mut add = |key: String, desc: Option<String>| {
        assert!(out.insert(key.clone(), desc).is_none(), "{key} is defined twice");
    };
    let arg = |at: &str, v: &InputValueDefinition| {
        let default = v.default_value.as_ref().map(|d| format!(" = {}", d.node)).unwrap_or_default();
        let key = format!("{at}: {}{default}{}", v.ty.node, deprecation(&v.directives));
        (key, v.description.as_ref().map(|d| d.node.clone()))
    };
    for def in doc.definitions {
        match def {
            TypeSystemDefinition::Schema(s) => {
                let name = |n: &Option<async_graphql::Positioned<async_graphql::Name>>| {
                    n.as_ref().map(|n| n.node.to_string()).unwrap_or_default()
                };
                let s = &s.node;
                let key = format!(
                    "schema query={} mutation={} subscription={}",
                    name(&s.query),
                    name(&s.mutation),
                    name(&s.subscription)
                );
                // SDL cannot carry the schema's description through
                // async-graphql's parser; `__schema.description` is left out.
                add(key, None);
            }
            TypeSystemDefinition::Directive(d) => {
                let d = &d.node;
                let locations: Vec<String> =
                    d.locations.iter().map(|l| format!("{:?}", l.node).to_uppercase()).collect();
                let repeatable = if repeatable_in_text(sdl, &d.name.node) { " repeatable" } else { "" };
                let head = format!("directive @{} on {}{repeatable}", d.name.node, locations.join("|"));
                add(head, d.description.as_ref().map(|x| x.node.clone()));
                for a in &d.arguments {
                    let (k, v) = arg(&format!("argument @{}({})", d.name.node, a.node.name.node), &a.node);
                    add(k, v);
                }
            }
            TypeSystemDefinition::Type(t) => {
                let t = &t.node;
                let name = t.name.node.as_str();
                let desc = t.description.as_ref().map(|d| d.node.clone());
                match &t.kind {
                    TypeKind::Scalar => {
                        let by = t.directives.iter().find(|d| d.node.name.node == "specifiedBy");
                        let url = by.and_then(|d| d.node.get_argument("url")).map(|u| u.node.to_string());
                        add(format!("scalar {name} specifiedBy={}", url.unwrap_or_default()), desc);
                    }
                    TypeKind::Object(o) => {
                        let mut interfaces: Vec<String> = o.implements.iter().map(|i| i.node.to_string()).collect();
                        interfaces.sort();
                        add(format!("type {name} implements [{}]", interfaces.join(", ")), desc);
                        for f in &o.fields {
                            field(&mut add, name, &f.node, &arg);
                        }
                    }
                    TypeKind::Interface(i) => {
                        add(format!("interface {name}"), desc);
                        for f in &i.fields {
                            field(&mut add, name, &f.node, &arg);
                        }
                    }
                    TypeKind::Union(u) => {
                        let mut members: Vec<String> = u.members.iter().map(|m| m.node.to_string()).collect();
                        members.sort();
                        add(format!("union {name} = {}", members.join(" | ")), desc);
                    }
                    TypeKind::Enum(e) => {
                        add(format!("enum {name}"), desc);
                        for v in &e.values {
                            let v = &v.node;
                            let key = format!("value {name}.{}{}", v.value.node, deprecation(&v.directives));
                            add(key, v.description.as_ref().map(|d| d.node.clone()));
                        }
                    }
                    TypeKind::InputObject(i) => {
                        let one_of = t.directives.iter().any(|d| d.node.name.node == "oneOf");
                        add(format!("input {name} oneOf={one_of}"), desc);
                        for f in &i.fields {
                            let (k, v) = arg(&format!("input field {name}.{}", f.node.name.node), &f.node);
                            add(k, v);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Whether the definition of directive `@name` says `repeatable`, read from
/// the text: async-graphql-parser 7.2.1 reads every directive definition as
/// repeatable (its grammar's `repeatable` rule also matches nothing).
fn repeatable_in_text(sdl: &str, name: &str) -> bool {
    let Some(at) = sdl.find(&format!("directive @{name}")) else { return false };
    // The head ends on its first line (no arguments) or on the line that
    // closes the argument list: `) [repeatable] on LOCATIONS`.
    let mut lines = sdl[at..].lines();
    let first = lines.next().unwrap_or_default();
    let last = if first.contains(" on ") { first } else { lines.find(|l| l.starts_with(')')).unwrap_or_default() };
    last.split(" on ").next().is_some_and(|head| head.split_whitespace().any(|w| w == "repeatable"))
}

fn field(
    add: &mut impl FnMut(String, Option<String>),
    ty: &str,
    f: &async_graphql::parser::types::FieldDefinition,
    arg: &impl Fn(&str, &InputValueDefinition) -> (String, Option<String>),
) {
    let key = format!("field {ty}.{}: {}{}", f.name.node, f.ty.node, deprecation(&f.directives));
    add(key, f.description.as_ref().map(|d| d.node.clone()));
    for a in &f.arguments {
        let (k, v) = arg(&format!("argument {ty}.{}({})", f.name.node, a.node.name.node), &a.node);
        add(k, v);
    }
}

fn deprecation(directives: &[async_graphql::Positioned<ConstDirective>]) -> String {
    match directives.iter().find(|d| d.node.name.node == "deprecated") {
        Some(d) => {
            format!(" @deprecated({})", d.node.get_argument("reason").map(|r| r.node.to_string()).unwrap_or_default())
        }
        None => String::new(),
    }
}

const INTROSPECTION: &str = r#"
query Introspection {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      kind name description specifiedByURL isOneOf
      fields(includeDeprecated: true) {
        name description isDeprecated deprecationReason
        args { ...InputValue }
        type { ...TypeRef }
      }
      inputFields { ...InputValue }
      interfaces { name }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { name }
    }
    directives { name description locations isRepeatable args { ...InputValue } }
  }
}
fragment InputValue on __InputValue { name description defaultValue isDeprecated deprecationReason type { ...TypeRef } }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
"#;

/// The elements of an introspection result, keyed as [`sdl_elements`] keys them.
fn introspection_elements(schema: &Value) -> Elements {
    fn ty(t: &Value) -> String {
        match t["kind"].as_str() {
            Some("NON_NULL") => format!("{}!", ty(&t["ofType"])),
            Some("LIST") => format!("[{}]", ty(&t["ofType"])),
            _ => t["name"].as_str().unwrap_or("?").to_owned(),
        }
    }
    fn desc(v: &Value) -> Option<String> {
        v["description"].as_str().map(str::to_owned)
    }
    fn deprecation(v: &Value) -> String {
        if v["isDeprecated"] == true {
            let reason = v["deprecationReason"].as_str().map(|r| json!(r).to_string()).unwrap_or_default();
            format!(" @deprecated({reason})")
        } else {
            String::new()
        }
    }
    fn arg(at: &str, v: &Value) -> (String, Option<String>) {
        let default = v["defaultValue"].as_str().map(|d| format!(" = {d}")).unwrap_or_default();
        (format!("{at}: {}{default}{}", ty(&v["type"]), deprecation(v)), desc(v))
    }
    let names = |v: &Value| -> Vec<String> {
        let mut n: Vec<String> =
            v.as_array().into_iter().flatten().map(|x| x["name"].as_str().unwrap_or("?").to_owned()).collect();
        n.sort();
        n
    };
    let mut out = Elements::new();
    let root = |k: &str| schema[k]["name"].as_str().unwrap_or("").to_owned();
    out.insert(
        format!(
            "schema query={} mutation={} subscription={}",
            root("queryType"),
            root("mutationType"),
            root("subscriptionType")
        ),
        None,
    );
    for d in schema["directives"].as_array().unwrap() {
        let name = d["name"].as_str().unwrap();
        let locations: Vec<String> =
            d["locations"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().replace('_', "")).collect();
        let rep = if d["isRepeatable"] == true { " repeatable" } else { "" };
        out.insert(format!("directive @{name} on {}{rep}", locations.join("|")), desc(d));
        for a in d["args"].as_array().unwrap() {
            let (k, v) = arg(&format!("argument @{name}({})", a["name"].as_str().unwrap()), a);
            out.insert(k, v);
        }
    }
    for t in schema["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        // Introspection's own types and the built-in scalars are not written in SDL.
        if name.starts_with("__") || ["String", "Int", "Float", "Boolean", "ID"].contains(&name) {
            continue;
        }
        let key = match t["kind"].as_str().unwrap() {
            "SCALAR" => format!(
                "scalar {name} specifiedBy={}",
                t["specifiedByURL"].as_str().map(|u| json!(u).to_string()).unwrap_or_default()
            ),
            "OBJECT" => format!("type {name} implements [{}]", names(&t["interfaces"]).join(", ")),
            "INTERFACE" => format!("interface {name}"),
            "UNION" => format!("union {name} = {}", names(&t["possibleTypes"]).join(" | ")),
            "ENUM" => format!("enum {name}"),
            "INPUT_OBJECT" => format!("input {name} oneOf={}", t["isOneOf"] == true),
            other => panic!("unknown type kind {other}"),
        };
        out.insert(key, desc(t));
        for f in t["fields"].as_array().into_iter().flatten() {
            let fname = f["name"].as_str().unwrap();
            out.insert(format!("field {name}.{fname}: {}{}", ty(&f["type"]), deprecation(f)), desc(f));
            for a in f["args"].as_array().unwrap() {
                let (k, v) = arg(&format!("argument {name}.{fname}({})", a["name"].as_str().unwrap()), a);
                out.insert(k, v);
            }
        }
        for f in t["inputFields"].as_array().into_iter().flatten() {
            let (k, v) = arg(&format!("input field {name}.{}", f["name"].as_str().unwrap()), f);
            out.insert(k, v);
        }
        for v in t["enumValues"].as_array().into_iter().flatten() {
            out.insert(format!("value {name}.{}{}", v["name"].as_str().unwrap(), deprecation(v)), desc(v));
        }
    }
    out
}

/// What one map has that the other lacks or describes differently.
fn differences(sdl: &Elements, live: &Elements) -> Vec<String> {
    let mut diff = Vec::new();
    for (k, v) in sdl {
        match live.get(k) {
            None => diff.push(format!("only in schema.graphql: {k}")),
            Some(l) if l != v => {
                diff.push(format!("{k}: description differs\n  schema.graphql: {v:?}\n  introspection:  {l:?}"))
            }
            Some(_) => {}
        }
    }
    diff.extend(live.keys().filter(|k| !sdl.contains_key(*k)).map(|k| format!("only in introspection: {k}")));
    diff
}

/// Frontends generate clients from schema.graphql, GraphiQL and other tools
/// read the live schema: the two must be the same schema, descriptions,
/// defaults, `@specifiedBy` and built-in directives included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_graphql_is_what_introspection_serves() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let r = app.gql(&ada.token, INTROSPECTION, json!({})).await;
    let live = introspection_elements(&r.ok()["__schema"]);
    let sdl = sdl_elements(CHECKED_IN);
    // The check itself must see the schema: a few elements it must know.
    for k in [
        "scalar DateTime specifiedBy=\"https://datatracker.ietf.org/doc/html/rfc3339\"",
        "directive @oneOf on INPUTOBJECT",
        "argument Query.nodes(ids): [ID!]!",
    ] {
        assert!(sdl.contains_key(k), "schema.graphql lacks {k}");
    }
    let diff = differences(&sdl, &live);
    assert!(diff.is_empty(), "schema.graphql and live introspection differ:\n{}", diff.join("\n"));
}

/// Every type, field, argument, enum value, input field, directive and
/// directive argument of schema.graphql has a description, for the
/// frontend engineers who read it in their editor and in GraphiQL.
#[test]
fn every_schema_element_is_described() {
    let missing: Vec<String> = sdl_elements(CHECKED_IN)
        .into_iter()
        .filter(|(k, d)| !k.starts_with("schema ") && d.as_deref().is_none_or(|d| d.trim().is_empty()))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty(),
        "{} schema elements have no description (a `///` doc comment, or `desc = \"...\"` on an argument):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

/// The description check finds what it must find.
#[test]
fn the_description_check_sees_undescribed_elements() {
    let sdl = "\"\"\"Q\"\"\"\ntype Query {\n\t\"\"\"f\"\"\"\n\tf(a: Int): Int\n\tg: E\n}\nenum E {\n\tA\n}\n";
    let missing: Vec<String> = sdl_elements(sdl)
        .into_iter()
        .filter(|(k, d)| !k.starts_with("schema ") && d.is_none())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(missing, ["argument Query.f(a): Int", "enum E", "field Query.g: E", "value E.A"]);
}
