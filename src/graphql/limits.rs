//! Document limits, checked once per request right after parsing and before
//! async-graphql sees the document (DESIGN.md §6–§7): fragment-expanded
//! size, depth, complexity, aliases and directives per operation, and the
//! introspection rules.
//!
//! The check runs in two passes, so that its own cost is linear in the
//! document's length whatever the document does:
//! 1. **Expanded size.** Each fragment's expanded size is computed once and
//!    reused wherever it is spread (memoised), so a chain of fragments that
//!    each spread the next twice (`F0 { ...F1 ...F1 } F1 { ...F2 ...F2 } …`,
//!    2^30 fields in under 1 KB) is measured in time proportional to its text
//!    and refused when any operation or fragment expands to more than
//!    [`Rules::expanded_fields`] *selections*. This must happen before
//!    async-graphql touches the document: its own recursion-depth check,
//!    directive count and validation rules all expand spreads without
//!    memoising, so the size counts every node they visit once per expansion:
//!    each field, fragment spread and inline fragment is one selection, and
//!    the values in its arguments and directives count too (a spread of an
//!    unknown fragment, a chain of single spreads, or a 1,500-item list
//!    argument repeated a thousand times are as costly to validate as as many
//!    fields; counting fields alone let each of them hold a worker for
//!    seconds). So validation's work is bounded by the limit, whatever the
//!    document's shape.
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
use async_graphql::parser::types::{
    Directive, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::Positioned;
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

    /// Pass 1: the selections every operation and every fragment expands to,
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
                "the document expands to more than {} selections once its fragments are spread \
                 (fields, fragment spreads and inline fragments, with the values of their arguments)",
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
        // An unknown fragment is validation's to report; its spread still
        // counts (as one selection, where it is spread).
        let Some(frag) = self.doc.fragments.get(name) else { return Ok(0) };
        self.memo.insert(name, Size::Open);
        let n = self.set(&frag.node.selection_set.node)?.saturating_add(directives_size(&frag.node.directives));
        self.memo.insert(name, Size::Done(n));
        Ok(n)
    }

    fn set(&mut self, set: &'a SelectionSet) -> Result<usize, Refused> {
        let mut n: usize = 0;
        for sel in &set.items {
            let add = match &sel.node {
                Selection::Field(f) => self
                    .set(&f.node.selection_set.node)?
                    .saturating_add(arguments_size(&f.node.arguments))
                    .saturating_add(directives_size(&f.node.directives)),
                Selection::FragmentSpread(s) => {
                    self.fragment(&s.node.fragment_name.node)?.saturating_add(directives_size(&s.node.directives))
                }
                Selection::InlineFragment(i) => {
                    self.set(&i.node.selection_set.node)?.saturating_add(directives_size(&i.node.directives))
                }
            };
            // The selection itself.
            n = n.saturating_add(add).saturating_add(1);
        }
        Ok(n)
    }
}

/// The value nodes of an argument list: a scalar or variable is one, a list
/// or object one plus its items.
fn arguments_size(args: &[(Positioned<Name>, Positioned<DocValue>)]) -> usize {
    fn size(v: &DocValue) -> usize {
        match v {
            DocValue::List(items) => items.iter().fold(1, |n, v| n.saturating_add(size(v))),
            DocValue::Object(fields) => fields.values().fold(1, |n, v| n.saturating_add(size(v))),
            _ => 1,
        }
    }
    args.iter().fold(0, |n, (_, v)| n.saturating_add(size(&v.node)))
}

/// Each directive is one, plus the values of its arguments.
fn directives_size(directives: &[Positioned<Directive>]) -> usize {
    directives.iter().fold(0, |n, d| n.saturating_add(1).saturating_add(arguments_size(&d.node.arguments)))
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
mod tests;
