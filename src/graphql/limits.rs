//! Document limits, checked once per request right after parsing and before
//! async-graphql sees the document (DESIGN.md §6–§7): fragment-expanded
//! size, depth, complexity, aliases and directives per operation, and the
//! introspection rules.
//!
//! The check runs in two passes, so that its own cost is linear in the
//! document's length whatever the document does:
//! 1. **Expanded size.** Each fragment's expanded field count is computed once
//!    and reused wherever it is spread (memoised), so a chain of fragments
//!    that each spread the next twice (`F0 { ...F1 ...F1 } F1 { ...F2 ...F2 }
//!    …`, 2^30 fields in under 1 KB) is measured in time proportional to its
//!    text and refused when any operation or fragment expands to more than
//!    [`Rules::expanded_fields`] fields. This must happen before async-graphql
//!    touches the document: its own recursion-depth check, directive count and
//!    validation rules all expand spreads without memoising.
//! 2. **The walk.** Only a document that passed (1) is walked with its
//!    fragments expanded, so the walk visits at most that many fields.
//!
//! Why our own walk instead of async-graphql's `limit_depth` and
//! `limit_complexity`:
//! - **Complexity** of a connection is its page size × the cost of its
//!   per-item selection (`edges`, `nodes`), plus its connection-level fields
//!   (`pageInfo`, `totalCount`) once. The page size is `first` or `last`
//!   from a literal, a variable's value, the variable's default, or the
//!   server default (20) when absent; clamped to the page limit. The stock
//!   closure can only multiply the whole selection, and sees no defaults.
//! - **Introspection** is exempt from the depth limit of ordinary queries
//!   (GraphiQL's own introspection query is 13 levels deep) but has its own
//!   cap, and a path may pass through each fan-out field (`fields`, `types`,
//!   `interfaces`, …) once only: the classic circular introspection attack
//!   (`types { fields { type { fields { … } } } }`) is refused at once.
//!
//! A refusal is a [`Refused`] with a message naming the limit; the HTTP
//! pipeline answers it as GRAPHQL_VALIDATION_FAILED.

use crate::config::Limits;
use async_graphql::parser::types::{ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet};
use async_graphql::{Name, Value, Variables};
use async_graphql_value::Value as DocValue;
use std::collections::HashMap;

/// How deep an introspection query may go.
pub const INTROSPECTION_DEPTH: usize = 16;
/// Introspection fields that fan out over the schema; each at most once per path.
const FAN_OUT: &[&str] = &["types", "fields", "inputFields", "interfaces", "possibleTypes", "enumValues", "args"];

/// A document that breaks a limit, with a message naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

pub struct Rules {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    pub directives: usize,
    pub expanded_fields: usize,
    pub max_page: usize,
    pub introspection: bool,
}

impl Rules {
    pub fn new(limits: &Limits, introspection: bool) -> Self {
        Rules {
            depth: limits.depth,
            complexity: limits.complexity,
            aliases: limits.aliases,
            directives: limits.directives,
            expanded_fields: limits.expanded_fields,
            max_page: limits.max_page_size as usize,
            introspection,
        }
    }

    /// Check every operation (and every fragment) of the document.
    pub fn check(&self, doc: &ExecutableDocument, vars: &Variables) -> Result<(), Refused> {
        self.check_expanded_size(doc)?;
        for (_, op) in doc.operations.iter() {
            let mut w = Walk {
                rules: self,
                doc,
                op: &op.node,
                vars,
                aliases: 0,
                directives: op.node.directives.len(),
                fragments: vec![],
            };
            let cost = w.set(&op.node.selection_set.node, 1, None)?;
            if w.aliases > self.aliases {
                return refuse(format!("too many aliases: {} (at most {})", w.aliases, self.aliases));
            }
            if w.directives > self.directives {
                return refuse(format!("too many directives: {} (at most {})", w.directives, self.directives));
            }
            if cost.total > self.complexity {
                return refuse(format!(
                    "query is too complex: {} (at most {}); a connection costs its page size times its per-item selection",
                    cost.total, self.complexity
                ));
            }
        }
        Ok(())
    }

    /// Pass 1: the fields every operation and every fragment expands to,
    /// each fragment measured once. Unused fragments count too: validation
    /// walks them.
    fn check_expanded_size(&self, doc: &ExecutableDocument) -> Result<(), Refused> {
        let mut sizes = Sizes { doc, memo: HashMap::with_capacity(doc.fragments.len()) };
        let mut total: usize = 0;
        for (_, op) in doc.operations.iter() {
            total = total.saturating_add(sizes.set(&op.node.selection_set.node)?);
        }
        for name in doc.fragments.keys() {
            total = total.max(sizes.fragment(name)?);
        }
        if total > self.expanded_fields {
            return refuse(format!(
                "the document expands to more than {} fields once its fragments are spread",
                self.expanded_fields
            ));
        }
        Ok(())
    }
}

fn refuse<T>(msg: String) -> Result<T, Refused> {
    Err(Refused(msg))
}

enum Size {
    /// Being measured: meeting it again is a cycle.
    Open,
    Done(usize),
}

/// Memoised expanded field counts (pass 1).
struct Sizes<'a> {
    doc: &'a ExecutableDocument,
    memo: HashMap<&'a Name, Size>,
}

impl<'a> Sizes<'a> {
    fn fragment(&mut self, name: &'a Name) -> Result<usize, Refused> {
        match self.memo.get(name) {
            Some(Size::Done(n)) => return Ok(*n),
            Some(Size::Open) => return refuse(format!("fragment {name} spreads itself")),
            None => {}
        }
        // An unknown fragment is validation's to report; it expands to nothing.
        let Some(frag) = self.doc.fragments.get(name) else { return Ok(0) };
        self.memo.insert(name, Size::Open);
        let n = self.set(&frag.node.selection_set.node)?;
        self.memo.insert(name, Size::Done(n));
        Ok(n)
    }

    fn set(&mut self, set: &'a SelectionSet) -> Result<usize, Refused> {
        let mut n: usize = 0;
        for sel in &set.items {
            let add = match &sel.node {
                Selection::Field(f) => self.set(&f.node.selection_set.node)?.saturating_add(1),
                Selection::FragmentSpread(s) => self.fragment(&s.node.fragment_name.node)?,
                Selection::InlineFragment(i) => self.set(&i.node.selection_set.node)?,
            };
            n = n.saturating_add(add);
        }
        Ok(n)
    }
}

#[derive(Default, Clone, Copy)]
struct Cost {
    total: usize,
    /// The part of `total` spent on `edges` and `nodes` (a connection's items).
    items: usize,
}

/// Pass 2, over a document whose expansion is known to be small.
struct Walk<'a> {
    rules: &'a Rules,
    doc: &'a ExecutableDocument,
    op: &'a OperationDefinition,
    vars: &'a Variables,
    aliases: usize,
    directives: usize,
    /// Fragments being expanded (a cycle is refused; pass 1 already did).
    fragments: Vec<&'a Name>,
}

impl<'a> Walk<'a> {
    /// `intro`: the fan-out fields on the path, when inside introspection.
    fn set(&mut self, set: &'a SelectionSet, depth: usize, intro: Option<&[&'a str]>) -> Result<Cost, Refused> {
        let mut cost = Cost::default();
        for sel in &set.items {
            let c = match &sel.node {
                Selection::Field(f) => {
                    self.aliases += usize::from(f.node.alias.is_some());
                    self.directives += f.node.directives.len();
                    let c = self.field(&f.node, depth, intro)?;
                    let name = f.node.name.node.as_str();
                    Cost { total: c, items: if matches!(name, "edges" | "nodes") { c } else { 0 } }
                }
                Selection::FragmentSpread(s) => {
                    self.directives += s.node.directives.len();
                    let name = &s.node.fragment_name.node;
                    let Some(frag) = self.doc.fragments.get(name) else { continue };
                    if self.fragments.contains(&name) {
                        return refuse(format!("fragment {name} spreads itself"));
                    }
                    self.fragments.push(name);
                    self.directives += frag.node.directives.len();
                    let c = self.set(&frag.node.selection_set.node, depth, intro)?;
                    self.fragments.pop();
                    c
                }
                Selection::InlineFragment(i) => {
                    self.directives += i.node.directives.len();
                    self.set(&i.node.selection_set.node, depth, intro)?
                }
            };
            cost.total = cost.total.saturating_add(c.total);
            cost.items = cost.items.saturating_add(c.items);
        }
        Ok(cost)
    }

    fn field(&mut self, f: &'a Field, depth: usize, intro: Option<&[&'a str]>) -> Result<usize, Refused> {
        let name = f.name.node.as_str();
        if name == "__typename" {
            return Ok(0);
        }
        let starts_intro = matches!(name, "__schema" | "__type");
        if starts_intro && !self.rules.introspection {
            return refuse("introspection is disabled on this server".into());
        }
        if let Some(path) = intro.filter(|_| !starts_intro).or(starts_intro.then_some(&[][..])) {
            if depth > INTROSPECTION_DEPTH {
                return refuse(format!(
                    "introspection query is nested too deep (at most {INTROSPECTION_DEPTH} levels)"
                ));
            }
            let mut path = path.to_vec();
            if let Some(fan) = FAN_OUT.iter().find(|n| **n == name) {
                if path.contains(fan) {
                    return refuse(format!(
                        "introspection query repeats `{name}` along one path (circular introspection)"
                    ));
                }
                path.push(fan);
            }
            let children = self.set(&f.selection_set.node, depth + 1, Some(&path))?;
            return Ok(children.total.saturating_add(1));
        }
        if depth > self.rules.depth {
            return refuse(format!("query is nested too deep: more than {} levels", self.rules.depth));
        }
        let children = self.set(&f.selection_set.node, depth + 1, None)?;
        // `nodes(ids:)` resolves its selection once per id: a page of that many.
        if let Some(n) = self.list_len(f, "ids") {
            let n = n.min(self.rules.max_page);
            return Ok(n.saturating_mul(children.total).saturating_add(1));
        }
        let page = ["first", "last"].iter().find_map(|arg| self.int_arg(f, arg));
        let is_connection =
            f.arguments.iter().any(|(n, _)| matches!(n.node.as_str(), "first" | "last" | "after" | "before"))
                || page.is_some()
                || children.items > 0;
        if !is_connection {
            return Ok(children.total.saturating_add(1));
        }
        let size = page.unwrap_or(crate::page::DEFAULT_PAGE_SIZE as i64).clamp(0, self.rules.max_page as i64) as usize;
        let once = children.total - children.items;
        Ok(size.saturating_mul(children.items).saturating_add(once).saturating_add(1))
    }

    /// The length of a list argument, from the same sources as [`Walk::int_arg`].
    fn list_len(&self, f: &Field, arg: &str) -> Option<usize> {
        let (_, v) = f.arguments.iter().find(|(n, _)| n.node.as_str() == arg)?;
        match &v.node {
            DocValue::List(items) => Some(items.len()),
            DocValue::Variable(var) => match self.vars.get(var) {
                Some(Value::List(items)) => Some(items.len()),
                Some(_) => None,
                None => {
                    let def = self.op.variable_definitions.iter().find(|d| d.node.name.node == *var)?;
                    match def.node.default_value.as_ref().map(|d| &d.node) {
                        Some(Value::List(items)) => Some(items.len()),
                        _ => None,
                    }
                }
            },
            _ => None,
        }
    }

    /// An Int argument: a literal, a variable's value, or that variable's
    /// default when the request leaves it out.
    fn int_arg(&self, f: &Field, arg: &str) -> Option<i64> {
        let (_, v) = f.arguments.iter().find(|(n, _)| n.node.as_str() == arg)?;
        match &v.node {
            DocValue::Number(n) => n.as_i64(),
            DocValue::Variable(var) => match self.vars.get(var) {
                Some(Value::Number(n)) => n.as_i64(),
                Some(_) => None,
                None => {
                    let def = self.op.variable_definitions.iter().find(|d| d.node.name.node == *var)?;
                    match def.node.default_value.as_ref().map(|d| &d.node) {
                        Some(Value::Number(n)) => n.as_i64(),
                        _ => None,
                    }
                }
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::new(&Limits::DEFAULT, true)
    }

    fn check(q: &str, vars: serde_json::Value) -> Result<(), Refused> {
        let doc = async_graphql::parser::parse_query(q).expect("parses");
        rules().check(&doc, &Variables::from_json(vars))
    }

    fn doubling(levels: usize) -> String {
        let mut q = String::from("query { ...F0 }\n");
        for i in 0..levels {
            q.push_str(&format!("fragment F{i} on Query {{ ...F{n} ...F{n} }}\n", n = i + 1));
        }
        q.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        q
    }

    #[test]
    fn fragment_doubling_is_measured_not_expanded() {
        // 2^10 = 1,024 fields: allowed; 2^11: refused.
        assert_eq!(check(&doubling(10), serde_json::json!({})), Ok(()));
        let err = check(&doubling(11), serde_json::json!({})).unwrap_err();
        assert!(err.0.contains("expands to more than 2000"), "{err:?}");
        // 2^60 fields, refused at once (this test would never finish otherwise).
        let started = std::time::Instant::now();
        assert!(check(&doubling(60), serde_json::json!({})).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn unused_fragments_count_too() {
        let mut q = doubling(40);
        q = q.replacen("query { ...F0 }", "query { __typename }", 1);
        assert!(check(&q, serde_json::json!({})).is_err());
    }

    #[test]
    fn page_size_from_every_source() {
        let q = "query($n: Int = 100) { clients(first: $n) { nodes { eligibleUsers(first: $n) { nodes { id } } } } }";
        // The default: 100 × (100 × 1 + 1) + ... far over 1,000.
        assert!(check(q, serde_json::json!({})).is_err());
        assert!(check(q, serde_json::json!({ "n": 100 })).is_err());
        assert_eq!(check(q, serde_json::json!({ "n": 3 })), Ok(()));
        // Absent: the server default of 20 per connection: 20 × (20 × 1 + 1 + 1) + 1 = 441.
        let absent = "{ clients { nodes { eligibleUsers { nodes { id } } } } }";
        assert_eq!(check(absent, serde_json::json!({})), Ok(()));
        let literal = "{ clients(first: 100) { nodes { eligibleUsers(first: 100) { nodes { id } } } } }";
        assert!(check(literal, serde_json::json!({})).is_err());
    }

    #[test]
    fn nodes_by_ids_cost_their_selection_once_per_id() {
        let q =
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Client { eligibleUsers(first: 100) { nodes { id } } } } }";
        // 1 id: 1 × (100 × 1 + 1 + 1) + 1; 10 ids: over 1,000.
        assert_eq!(check(q, serde_json::json!({ "ids": ["a"] })), Ok(()));
        assert!(check(q, serde_json::json!({ "ids": vec!["a"; 10] })).is_err());
        let literal = "{ nodes(ids: [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\", \"j\"]) { ... on Client { eligibleUsers(first: 100) { nodes { id } } } } }";
        assert!(check(literal, serde_json::json!({})).is_err());
        // Many ids with a small selection are fine.
        assert_eq!(
            check("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", serde_json::json!({ "ids": vec!["a"; 100] })),
            Ok(())
        );
    }
}
