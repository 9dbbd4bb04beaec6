//! The syntax tree of a JQL query.
//!
//! The tree is purely syntactic: field names stay as written and values are not checked against
//! the site until [`Query::compile`](crate::jql::Query::compile). Parentheses leave no node of
//! their own: `a AND b AND c` is one [`Clause::And`] with three children, while
//! `(a AND b) AND c` nests, so rendering a tree and parsing it back gives the same tree.

/// A parsed query: an optional restriction and the sort.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// The restriction; `None` for an empty query or one with only `ORDER BY`.
    pub where_clause: Option<Clause>,
    /// The `ORDER BY` fields, first key first; empty when the query has no `ORDER BY`.
    pub order_by: Vec<OrderBy>,
}

impl Query {
    /// Whether the query restricts the issues at all.
    ///
    /// Jira Cloud's `/search/jql` and `approximate-count` refuse queries without a restriction
    /// (an empty query, or one with only `ORDER BY`) with [`JqlError::Unbounded`]. Like Jira,
    /// this is a syntactic check: `key IS NOT EMPTY` counts as a restriction.
    ///
    /// [`JqlError::Unbounded`]: crate::jql::JqlError::Unbounded
    pub fn is_bounded(&self) -> bool {
        self.where_clause.is_some()
    }
}

/// A boolean combination of terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// All children hold (two or more).
    And(Vec<Clause>),
    /// At least one child holds (two or more).
    Or(Vec<Clause>),
    /// `NOT x` or `!x`.
    Not(Box<Clause>),
    /// `field operator operand`.
    Term(Term),
}

/// One `field operator operand` comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The field searched.
    pub field: Field,
    /// How it is compared.
    pub operator: Operator,
    /// What it is compared with.
    pub operand: Operand,
}

/// A field reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// A field by name as written (system field, alias or custom field name).
    Named(String),
    /// `cf[10010]`.
    Custom(u64),
}

impl Field {
    /// The field as Jira names it in error messages.
    pub fn display_name(&self) -> String {
        match self {
            Self::Named(name) => name.clone(),
            Self::Custom(id) => format!("cf[{id}]"),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`
    Eq,
    /// `!=`
    NotEq,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `IN`
    In,
    /// `NOT IN`
    NotIn,
    /// `IS`
    Is,
    /// `IS NOT`
    IsNot,
    /// `~` (contains text)
    Like,
    /// `!~` (does not contain text)
    NotLike,
}

impl Operator {
    /// Every operator, for tests and generators.
    pub const ALL: [Self; 12] = [
        Self::Eq,
        Self::NotEq,
        Self::Gt,
        Self::Gte,
        Self::Lt,
        Self::Lte,
        Self::In,
        Self::NotIn,
        Self::Is,
        Self::IsNot,
        Self::Like,
        Self::NotLike,
    ];

    /// The operator as JQL spells it.
    pub fn as_jql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::NotEq => "!=",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::In => "IN",
            Self::NotIn => "NOT IN",
            Self::Is => "IS",
            Self::IsNot => "IS NOT",
            Self::Like => "~",
            Self::NotLike => "!~",
        }
    }

    /// The operator as Jira spells it inside error messages.
    pub fn message_name(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::NotIn => "not in",
            Self::Is => "is",
            Self::IsNot => "is not",
            other => other.as_jql(),
        }
    }

    /// The operator that holds exactly when this one does not, as Jira rewrites `NOT` clauses.
    pub fn negated(self) -> Self {
        match self {
            Self::Eq => Self::NotEq,
            Self::NotEq => Self::Eq,
            Self::Gt => Self::Lte,
            Self::Gte => Self::Lt,
            Self::Lt => Self::Gte,
            Self::Lte => Self::Gt,
            Self::In => Self::NotIn,
            Self::NotIn => Self::In,
            Self::Is => Self::IsNot,
            Self::IsNot => Self::Is,
            Self::Like => Self::NotLike,
            Self::NotLike => Self::Like,
        }
    }
}

/// The right-hand side of a term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// `EMPTY` or `NULL`.
    Empty,
    /// A single value.
    Value(Value),
    /// `name(arg, …)`.
    Function(FunctionCall),
    /// `(a, b, …)`: one or more values, functions or `EMPTY`, never nested lists.
    List(Vec<Operand>),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A quoted string, or a bare word that is not a number.
    Text(String),
    /// A bare integer. Date fields read it as epoch milliseconds.
    Number(i64),
}

impl Value {
    /// The value as written, for error messages and lookups.
    pub fn as_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Number(n) => n.to_string(),
        }
    }
}

/// A function call such as `currentUser()` or `startOfDay("-1d")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCall {
    /// The name as written; Jira matches function names without regard to case.
    pub name: String,
    /// The arguments, each a string whether quoted or not.
    pub args: Vec<String>,
}

/// One `ORDER BY` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// The field sorted on.
    pub field: Field,
    /// `ASC`/`DESC`, or `None` for the field's default direction.
    pub direction: Option<Direction>,
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negation_is_an_involution() {
        for op in Operator::ALL {
            assert_eq!(op.negated().negated(), op);
            assert_ne!(op.negated(), op);
        }
    }

    #[test]
    fn bounded_means_a_restriction_exists() {
        let unbounded = Query {
            where_clause: None,
            order_by: vec![OrderBy {
                field: Field::Named("key".into()),
                direction: Some(Direction::Desc),
            }],
        };
        assert!(!unbounded.is_bounded());
        let bounded = Query {
            where_clause: Some(Clause::Term(Term {
                field: Field::Named("project".into()),
                operator: Operator::Eq,
                operand: Operand::Value(Value::Text("A".into())),
            })),
            order_by: Vec::new(),
        };
        assert!(bounded.is_bounded());
    }

    #[test]
    fn custom_field_display_name() {
        assert_eq!(Field::Custom(10010).display_name(), "cf[10010]");
        assert_eq!(Value::Number(-5).as_text(), "-5");
    }
}
