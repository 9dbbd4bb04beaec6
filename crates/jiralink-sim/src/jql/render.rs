//! Renders a syntax tree back to JQL text.
//!
//! The output parses back to the same tree (checked by a property test) as long as `And`/`Or`
//! have at least two children and function names are plain words. Words are left bare only when
//! they are letters, digits, `-`, `_`, `.` or `:` and neither numbers nor reserved words; all else
//! is double-quoted with JQL escapes.

use std::fmt::{self, Write as _};

use super::ast::{Clause, Direction, Field, Operand, OrderBy, Query, Term, Value};
use super::parser::{is_reserved_word, looks_numeric};

impl Query {
    /// The query as JQL text.
    pub fn to_jql(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(clause) = &self.where_clause {
            write_clause(f, clause)?;
            if !self.order_by.is_empty() {
                f.write_char(' ')?;
            }
        }
        if !self.order_by.is_empty() {
            f.write_str("ORDER BY ")?;
            for (i, order) in self.order_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_order(f, order)?;
            }
        }
        Ok(())
    }
}

fn write_order(f: &mut fmt::Formatter<'_>, order: &OrderBy) -> fmt::Result {
    write_field(f, &order.field)?;
    match order.direction {
        Some(Direction::Asc) => f.write_str(" ASC"),
        Some(Direction::Desc) => f.write_str(" DESC"),
        None => Ok(()),
    }
}

fn write_clause(f: &mut fmt::Formatter<'_>, clause: &Clause) -> fmt::Result {
    match clause {
        Clause::And(children) => write_joined(f, children, " AND ", |c| {
            matches!(c, Clause::And(_) | Clause::Or(_))
        }),
        Clause::Or(children) => write_joined(f, children, " OR ", |c| matches!(c, Clause::Or(_))),
        Clause::Not(inner) => {
            f.write_str("NOT ")?;
            write_grouped(f, inner, matches!(**inner, Clause::And(_) | Clause::Or(_)))
        }
        Clause::Term(term) => write_term(f, term),
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    children: &[Clause],
    separator: &str,
    needs_parens: impl Fn(&Clause) -> bool,
) -> fmt::Result {
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        write_grouped(f, child, needs_parens(child))?;
    }
    Ok(())
}

fn write_grouped(f: &mut fmt::Formatter<'_>, clause: &Clause, parens: bool) -> fmt::Result {
    if parens {
        f.write_char('(')?;
        write_clause(f, clause)?;
        f.write_char(')')
    } else {
        write_clause(f, clause)
    }
}

fn write_term(f: &mut fmt::Formatter<'_>, term: &Term) -> fmt::Result {
    write_field(f, &term.field)?;
    write!(f, " {} ", term.operator.as_jql())?;
    write_operand(f, &term.operand)
}

fn write_field(f: &mut fmt::Formatter<'_>, field: &Field) -> fmt::Result {
    match field {
        Field::Named(name) => write_word(f, name),
        Field::Custom(id) => write!(f, "cf[{id}]"),
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Operand) -> fmt::Result {
    match operand {
        Operand::Empty => f.write_str("EMPTY"),
        Operand::Value(Value::Number(n)) => write!(f, "{n}"),
        Operand::Value(Value::Text(text)) => write_word(f, text),
        Operand::Function(call) => {
            f.write_str(&call.name)?;
            f.write_char('(')?;
            for (i, arg) in call.args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_quoted(f, arg)?;
            }
            f.write_char(')')
        }
        Operand::List(items) => {
            f.write_char('(')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_operand(f, item)?;
            }
            f.write_char(')')
        }
    }
}

/// Whether `word` reads back as the same word without quotes.
fn is_bare(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        && !looks_numeric(word)
        && !is_reserved_word(word)
}

fn write_word(f: &mut fmt::Formatter<'_>, word: &str) -> fmt::Result {
    if is_bare(word) {
        f.write_str(word)
    } else {
        write_quoted(f, word)
    }
}

/// Writes `text` as a double-quoted JQL string.
fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::ast::{FunctionCall, Operator};
    use super::super::parse;
    use super::*;

    #[test]
    fn renders_canonical_text() {
        let cases = [
            ("project = ABC", "project = ABC"),
            (
                "project=abc and status in (Done,'In Progress')",
                "project = abc AND status IN (Done, \"In Progress\")",
            ),
            ("a = 1 or (b = 2 or c = 3)", "a = 1 OR (b = 2 OR c = 3)"),
            (
                "not (a = x and b = y) and !c = z",
                "NOT (a = x AND b = y) AND NOT c = z",
            ),
            ("assignee is not null", "assignee IS NOT EMPTY"),
            (
                "labels not in (\"a b\", EMPTY)",
                "labels NOT IN (\"a b\", EMPTY)",
            ),
            ("created > startOfDay(-1d)", "created > startOfDay(\"-1d\")"),
            (
                "summary ~ \"say \\\"hi\\\"\\n\"",
                "summary ~ \"say \\\"hi\\\"\\n\"",
            ),
            ("cf[10010] = \"123\"", "cf[10010] = \"123\""),
            (
                "\"Story Points\" = 3 order by key",
                "\"Story Points\" = 3 ORDER BY key",
            ),
            (
                "order by created desc, key asc",
                "ORDER BY created DESC, key ASC",
            ),
            ("\"user\" = \"select\"", "\"user\" = \"select\""),
            ("", ""),
        ];
        for (source, rendered) in cases {
            let query = parse(source).unwrap();
            assert_eq!(query.to_jql(), rendered, "{source}");
            assert_eq!(parse(rendered).unwrap(), query, "{rendered}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        let query = Query {
            where_clause: Some(Clause::Term(Term {
                field: Field::Named("summary".into()),
                operator: Operator::Like,
                operand: Operand::Value(Value::Text("a\u{1}b\u{7f}".into())),
            })),
            order_by: Vec::new(),
        };
        assert_eq!(query.to_jql(), "summary ~ \"a\\u0001b\\u007f\"");
        assert_eq!(parse(&query.to_jql()).unwrap(), query);
    }

    fn bare_word() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9_.:-]{0,6}".prop_filter("reserved", |w| !is_reserved_word(w))
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>(), 0..8).prop_map(String::from_iter)
    }

    fn field() -> impl Strategy<Value = Field> {
        prop_oneof![
            bare_word().prop_map(Field::Named),
            any_text().prop_map(Field::Named),
            any::<u64>().prop_map(Field::Custom),
        ]
    }

    fn single_operand() -> impl Strategy<Value = Operand> {
        prop_oneof![
            Just(Operand::Empty),
            bare_word().prop_map(|w| Operand::Value(Value::Text(w))),
            any_text().prop_map(|w| Operand::Value(Value::Text(w))),
            any::<i64>().prop_map(|n| Operand::Value(Value::Number(n))),
            (bare_word(), prop::collection::vec(any_text(), 0..3))
                .prop_map(|(name, args)| Operand::Function(FunctionCall { name, args })),
        ]
    }

    fn operand() -> impl Strategy<Value = Operand> {
        prop_oneof![
            3 => single_operand(),
            1 => prop::collection::vec(single_operand(), 1..4).prop_map(Operand::List),
        ]
    }

    fn clause() -> impl Strategy<Value = Clause> {
        let term = (
            field(),
            prop::sample::select(Operator::ALL.to_vec()),
            operand(),
        )
            .prop_map(|(field, operator, operand)| {
                Clause::Term(Term {
                    field,
                    operator,
                    operand,
                })
            });
        term.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Clause::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Clause::Or),
                inner.prop_map(|c| Clause::Not(Box::new(c))),
            ]
        })
    }

    fn query() -> impl Strategy<Value = Query> {
        let direction = prop::option::of(prop_oneof![Just(Direction::Asc), Just(Direction::Desc)]);
        let order =
            (field(), direction).prop_map(|(field, direction)| OrderBy { field, direction });
        (
            prop::option::of(clause()),
            prop::collection::vec(order, 0..4),
        )
            .prop_map(|(where_clause, order_by)| Query {
                where_clause,
                order_by,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_of_render_is_identity(query in query()) {
            let text = query.to_jql();
            prop_assert_eq!(parse(&text).map_err(|e| e.to_string()), Ok(query), "{}", text);
        }
    }
}
