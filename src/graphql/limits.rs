//! Document limits, checked once per request right after parsing and before
//! validation or execution (DESIGN.md §6): depth, complexity, aliases and
//! directives per operation, and the introspection rules.
//!
//! Why our own walk instead of async-graphql's `limit_depth` and
//! `limit_complexity`:
//! - **Complexity** of a connection is `first` (or `last`, default 20,
//!   clamped to the page limit) × the cost of its per-item selection
//!   (`edges`, `nodes`), plus the cost of its connection-level fields
//!   (`pageInfo`, `totalCount`) once. The stock closure can only multiply
//!   the whole selection, which charged a 100-item page for 100 `pageInfo`s.
//! - **Introspection** is exempt from the depth limit of ordinary queries
//!   (GraphiQL's own introspection query is 13 levels deep) but has its own
//!   cap, and a path may pass through each fan-out field (`fields`, `types`,
//!   `interfaces`, …) once only: the classic circular introspection attack
//!   (`types { fields { type { fields { … } } } }`) is refused at once.
//!
//! Every refusal is GRAPHQL_VALIDATION_FAILED with a message naming the limit.

use crate::config::Limits;
use crate::error::Code;
use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Name, ServerError, Value, Variables};
use async_graphql_value::Value as DocValue;

/// How deep an introspection query may go.
pub const INTROSPECTION_DEPTH: usize = 16;
/// Introspection fields that fan out over the schema; each at most once per path.
const FAN_OUT: &[&str] = &["types", "fields", "inputFields", "interfaces", "possibleTypes", "enumValues", "args"];

pub struct Rules {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    pub directives: usize,
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
            max_page: limits.max_page_size as usize,
            introspection,
        }
    }

    /// Check every operation of the document.
    pub fn check(&self, doc: &ExecutableDocument, vars: &Variables) -> Result<(), ServerError> {
        for (_, op) in doc.operations.iter() {
            let mut w =
                Walk { rules: self, doc, vars, aliases: 0, directives: op.node.directives.len(), fragments: vec![] };
            let cost = w.set(&op.node.selection_set.node, 1, None)?;
            let refuse = |msg: String| {
                Err(crate::graphql::errors::with_code(ServerError::new(msg, None), Code::GraphqlValidationFailed))
            };
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
}

#[derive(Default, Clone, Copy)]
struct Cost {
    total: usize,
    /// The part of `total` spent on `edges` and `nodes` (a connection's items).
    items: usize,
}

struct Walk<'a> {
    rules: &'a Rules,
    doc: &'a ExecutableDocument,
    vars: &'a Variables,
    aliases: usize,
    directives: usize,
    /// Fragments being expanded (a cycle is refused; validation would too).
    fragments: Vec<&'a Name>,
}

fn refuse<T>(msg: String) -> Result<T, ServerError> {
    Err(crate::graphql::errors::with_code(ServerError::new(msg, None), Code::GraphqlValidationFailed))
}

impl<'a> Walk<'a> {
    /// `intro`: the fan-out fields on the path, when inside introspection.
    fn set(&mut self, set: &'a SelectionSet, depth: usize, intro: Option<&[&'a str]>) -> Result<Cost, ServerError> {
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

    fn field(&mut self, f: &'a Field, depth: usize, intro: Option<&[&'a str]>) -> Result<usize, ServerError> {
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
        let page = ["first", "last"].iter().find_map(|arg| self.int_arg(f, arg));
        let is_connection =
            f.arguments.iter().any(|(n, _)| matches!(n.node.as_str(), "first" | "last" | "after" | "before"))
                || page.is_some()
                || children.items > 0;
        if !is_connection {
            return Ok(children.total.saturating_add(1));
        }
        let size = page.unwrap_or(Limits::DEFAULT_PAGE_SIZE as i64).clamp(0, self.rules.max_page as i64) as usize;
        let once = children.total - children.items;
        Ok(size.saturating_mul(children.items).saturating_add(once).saturating_add(1))
    }

    /// An Int argument, literal or from a variable.
    fn int_arg(&self, f: &Field, arg: &str) -> Option<i64> {
        let (_, v) = f.arguments.iter().find(|(n, _)| n.node.as_str() == arg)?;
        match &v.node {
            DocValue::Number(n) => n.as_i64(),
            DocValue::Variable(var) => match self.vars.get(var) {
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            },
            _ => None,
        }
    }
}
