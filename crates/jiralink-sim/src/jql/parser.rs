//! A recursive-descent JQL parser with Jira's precedence: `NOT` binds tighter than `AND`, which
//! binds tighter than `OR`.

use super::ast::Value;
use super::ast::{Clause, Direction, Field, FunctionCall, Operand, Operator, OrderBy, Query, Term};
use super::error::{JqlError, JqlErrors, VALID_OPERATORS};
use super::lexer::{Token, TokenKind, tokenize};

/// Words Jira refuses unquoted, as values or field names, because its grammar reserves them.
pub(crate) const RESERVED_WORDS: &[&str] = &[
    "abort",
    "access",
    "add",
    "after",
    "alias",
    "all",
    "alter",
    "and",
    "any",
    "as",
    "asc",
    "audit",
    "avg",
    "before",
    "begin",
    "between",
    "boolean",
    "break",
    "by",
    "byte",
    "catch",
    "cf",
    "char",
    "character",
    "check",
    "checkpoint",
    "collate",
    "collation",
    "column",
    "commit",
    "connect",
    "continue",
    "count",
    "create",
    "current",
    "date",
    "decimal",
    "declare",
    "decrement",
    "default",
    "defaults",
    "define",
    "delete",
    "delimiter",
    "desc",
    "difference",
    "distinct",
    "divide",
    "do",
    "double",
    "drop",
    "else",
    "empty",
    "encoding",
    "end",
    "equals",
    "escape",
    "exclusive",
    "exec",
    "execute",
    "exists",
    "explain",
    "false",
    "fetch",
    "field",
    "file",
    "first",
    "float",
    "for",
    "from",
    "function",
    "go",
    "goto",
    "grant",
    "greater",
    "group",
    "having",
    "identified",
    "if",
    "immediate",
    "in",
    "increment",
    "index",
    "initial",
    "inner",
    "inout",
    "input",
    "insert",
    "int",
    "integer",
    "intersect",
    "intersection",
    "into",
    "is",
    "isempty",
    "isnull",
    "join",
    "last",
    "left",
    "less",
    "like",
    "limit",
    "lock",
    "long",
    "max",
    "min",
    "minus",
    "mode",
    "modify",
    "modulo",
    "more",
    "multiply",
    "next",
    "noaudit",
    "not",
    "notin",
    "nowait",
    "null",
    "number",
    "object",
    "of",
    "on",
    "option",
    "or",
    "order",
    "outer",
    "output",
    "power",
    "previous",
    "prior",
    "privileges",
    "public",
    "raise",
    "raw",
    "remainder",
    "rename",
    "resource",
    "return",
    "returns",
    "revoke",
    "right",
    "row",
    "rowid",
    "rownum",
    "rows",
    "select",
    "session",
    "set",
    "share",
    "size",
    "sqrt",
    "start",
    "strict",
    "string",
    "subtract",
    "sum",
    "synonym",
    "table",
    "then",
    "to",
    "trans",
    "transaction",
    "trigger",
    "true",
    "uid",
    "union",
    "unique",
    "update",
    "user",
    "validate",
    "values",
    "view",
    "when",
    "whenever",
    "where",
    "while",
    "with",
];

/// Words with a grammatical role; everywhere else they are reserved words.
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc",
];

/// Nesting of parentheses and `NOT` beyond which the query is refused, so hostile input cannot
/// exhaust the stack.
const MAX_DEPTH: usize = 100;

pub(crate) fn is_reserved_word(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    RESERVED_WORDS.binary_search(&lower.as_str()).is_ok()
}

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Parses JQL text into a [`Query`].
///
/// An empty (or all-blank) text is a valid query with no restriction and no sort.
///
/// # Errors
///
/// A single [`JqlError::Syntax`] with Jira's wording and 1-based line/character position.
pub fn parse(jql: &str) -> Result<Query, JqlErrors> {
    let tokens = tokenize(jql)?;
    let mut parser = Parser {
        source: jql,
        tokens,
        pos: 0,
        depth: 0,
    };
    Ok(parser.query()?)
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The token list always ends with `Eof`, and `advance` never moves past it.
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.pos.min(last)]
    }

    fn peek_second(&self) -> &TokenKind {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[(self.pos + 1).min(last)].kind
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn at_and(&self) -> bool {
        self.peek().kind == TokenKind::AndSymbol || self.at_keyword("and")
    }

    fn at_or(&self) -> bool {
        self.peek().kind == TokenKind::OrSymbol || self.at_keyword("or")
    }

    fn error_at(&self, token: &Token, message: String) -> JqlError {
        let _ = self;
        JqlError::Syntax {
            message,
            line: token.line,
            character: token.character,
        }
    }

    fn got(&self, expecting: &str) -> JqlError {
        let token = self.peek();
        self.error_at(
            token,
            format!("{expecting} but got '{}'.", token.shown(self.source)),
        )
    }

    fn reserved(&self, word: &str) -> JqlError {
        self.error_at(
            self.peek(),
            format!(
                "'{word}' is a reserved JQL word. You must surround it in quotation marks to use \
                 it in a query."
            ),
        )
    }

    fn query(&mut self) -> Result<Query, JqlError> {
        let where_clause = if self.at_keyword("order") || self.peek().kind == TokenKind::Eof {
            None
        } else {
            Some(self.or_clause()?)
        };
        let mut order_by = Vec::new();
        if self.at_keyword("order") {
            self.advance();
            if !self.at_keyword("by") {
                return Err(self.got("Expecting 'BY'"));
            }
            self.advance();
            order_by = self.order_list()?;
        }
        if self.peek().kind != TokenKind::Eof {
            return Err(if order_by.is_empty() {
                self.got("Expecting either 'OR' or 'AND'")
            } else {
                self.got("Expecting either ',' or the end of the query")
            });
        }
        Ok(Query {
            where_clause,
            order_by,
        })
    }

    fn order_list(&mut self) -> Result<Vec<OrderBy>, JqlError> {
        let mut order_by = Vec::new();
        loop {
            let field = self.field()?;
            let direction = if self.at_keyword("asc") {
                self.advance();
                Some(Direction::Asc)
            } else if self.at_keyword("desc") {
                self.advance();
                Some(Direction::Desc)
            } else {
                None
            };
            order_by.push(OrderBy { field, direction });
            match &self.peek().kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::Eof => return Ok(order_by),
                _ if direction.is_none() => {
                    return Err(self.got("Expecting either 'ASC' or 'DESC'"));
                }
                _ => return Err(self.got("Expecting either ',' or the end of the query")),
            }
        }
    }

    fn or_clause(&mut self) -> Result<Clause, JqlError> {
        let first = self.and_clause()?;
        if !self.at_or() {
            return Ok(first);
        }
        let mut children = vec![first];
        while self.at_or() {
            self.advance();
            children.push(self.and_clause()?);
        }
        Ok(Clause::Or(children))
    }

    fn and_clause(&mut self) -> Result<Clause, JqlError> {
        let first = self.not_clause()?;
        if !self.at_and() {
            return Ok(first);
        }
        let mut children = vec![first];
        while self.at_and() {
            self.advance();
            children.push(self.not_clause()?);
        }
        Ok(Clause::And(children))
    }

    fn not_clause(&mut self) -> Result<Clause, JqlError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(
                self.peek(),
                format!(
                    "The query nests parentheses and NOT more than {MAX_DEPTH} levels deep. \
                     Simplify the query."
                ),
            ));
        }
        self.depth += 1;
        let clause = self.not_clause_inner();
        self.depth -= 1;
        clause
    }

    fn not_clause_inner(&mut self) -> Result<Clause, JqlError> {
        if self.peek().kind == TokenKind::Bang || self.at_keyword("not") {
            self.advance();
            return Ok(Clause::Not(Box::new(self.not_clause()?)));
        }
        if self.peek().kind == TokenKind::LParen {
            self.advance();
            let clause = self.or_clause()?;
            if self.peek().kind != TokenKind::RParen {
                return Err(
                    if self.at_keyword("order") || self.peek().kind == TokenKind::Eof {
                        self.got("Expecting ')'")
                    } else {
                        self.got("Expecting either 'OR', 'AND' or ')'")
                    },
                );
            }
            self.advance();
            return Ok(clause);
        }
        let field = self.field()?;
        let operator = self.operator()?;
        let operand = self.operand()?;
        Ok(Clause::Term(Term {
            field,
            operator,
            operand,
        }))
    }

    fn field(&mut self) -> Result<Field, JqlError> {
        match &self.peek().kind {
            TokenKind::Word(word) if is_keyword(word) => Err(self.got("Expecting a field name")),
            TokenKind::Word(word) if is_reserved_word(word) => Err(self.reserved(word)),
            TokenKind::Word(word) | TokenKind::Quoted(word) => {
                let field = Field::Named(word.clone());
                self.advance();
                Ok(field)
            }
            TokenKind::Custom(id) => {
                let field = Field::Custom(*id);
                self.advance();
                Ok(field)
            }
            _ => Err(self.got("Expecting a field name")),
        }
    }

    fn operator(&mut self) -> Result<Operator, JqlError> {
        let operator = match &self.peek().kind {
            TokenKind::Eq => Operator::Eq,
            TokenKind::NotEq => Operator::NotEq,
            TokenKind::Lt => Operator::Lt,
            TokenKind::Lte => Operator::Lte,
            TokenKind::Gt => Operator::Gt,
            TokenKind::Gte => Operator::Gte,
            TokenKind::Like => Operator::Like,
            TokenKind::NotLike => Operator::NotLike,
            TokenKind::Word(w) if w.eq_ignore_ascii_case("in") => Operator::In,
            TokenKind::Word(w) if w.eq_ignore_ascii_case("not") => {
                self.advance();
                if !self.at_keyword("in") {
                    return Err(self.got("Expecting 'IN'"));
                }
                Operator::NotIn
            }
            TokenKind::Word(w) if w.eq_ignore_ascii_case("is") => {
                self.advance();
                if self.at_keyword("not") {
                    self.advance();
                    return Ok(Operator::IsNot);
                }
                return Ok(Operator::Is);
            }
            _ => {
                return Err(self.got("Expecting operator").with_suffix(VALID_OPERATORS));
            }
        };
        self.advance();
        Ok(operator)
    }

    fn operand(&mut self) -> Result<Operand, JqlError> {
        if self.peek().kind != TokenKind::LParen {
            return self.single_operand();
        }
        self.advance();
        let mut items = Vec::new();
        loop {
            items.push(self.single_operand()?);
            match self.peek().kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RParen => {
                    self.advance();
                    return Ok(Operand::List(items));
                }
                _ => return Err(self.got("Expecting either ',' or ')'")),
            }
        }
    }

    fn single_operand(&mut self) -> Result<Operand, JqlError> {
        let value_expected = |p: &Self| {
            p.got("Expecting either a value, list or function")
                .with_suffix("You must specify a value for the field or a function.")
        };
        match &self.peek().kind {
            TokenKind::Word(w)
                if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") =>
            {
                self.advance();
                Ok(Operand::Empty)
            }
            TokenKind::Word(w) if *self.peek_second() == TokenKind::LParen => {
                let name = w.clone();
                self.advance();
                self.advance();
                let args = self.function_args()?;
                Ok(Operand::Function(FunctionCall { name, args }))
            }
            TokenKind::Word(w) if is_keyword(w) => Err(value_expected(self)),
            TokenKind::Word(w) if is_reserved_word(w) => Err(self.reserved(w)),
            TokenKind::Word(w) => {
                let value = number(w).map_or_else(|| Value::Text(w.clone()), Value::Number);
                self.advance();
                Ok(Operand::Value(value))
            }
            TokenKind::Quoted(text) => {
                let value = Value::Text(text.clone());
                self.advance();
                Ok(Operand::Value(value))
            }
            _ => Err(value_expected(self)),
        }
    }

    /// Reads arguments after `name(` up to and including `)`.
    fn function_args(&mut self) -> Result<Vec<String>, JqlError> {
        let mut args = Vec::new();
        if self.peek().kind == TokenKind::RParen {
            self.advance();
            return Ok(args);
        }
        loop {
            match &self.peek().kind {
                TokenKind::Word(w) | TokenKind::Quoted(w) => {
                    args.push(w.clone());
                    self.advance();
                }
                _ => return Err(self.got("Expecting a function argument")),
            }
            match self.peek().kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RParen => {
                    self.advance();
                    return Ok(args);
                }
                _ => return Err(self.got("Expecting either ',' or ')'")),
            }
        }
    }
}

/// A bare word that Jira reads as a number: an optional `-` and ASCII digits that fit an `i64`.
pub(crate) fn number(word: &str) -> Option<i64> {
    let digits = word.strip_prefix('-').unwrap_or(word);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok()
}

/// Whether a bare word of these characters would be lexed as a number.
pub(crate) fn looks_numeric(word: &str) -> bool {
    let digits = word.strip_prefix('-').unwrap_or(word);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

impl JqlError {
    /// Appends a sentence to a syntax message.
    fn with_suffix(self, suffix: &str) -> Self {
        match self {
            Self::Syntax {
                message,
                line,
                character,
            } => Self::Syntax {
                message: format!("{message} {suffix}"),
                line,
                character,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(field: &str, operator: Operator, operand: Operand) -> Clause {
        Clause::Term(Term {
            field: Field::Named(field.into()),
            operator,
            operand,
        })
    }

    fn text(s: &str) -> Operand {
        Operand::Value(Value::Text(s.into()))
    }

    #[test]
    fn reserved_words_are_sorted_for_binary_search() {
        assert!(RESERVED_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_reserved_word("SELECT"));
        assert!(!is_reserved_word("project"));
    }

    #[test]
    fn precedence_not_and_or() {
        let q = parse("NOT a = 1 AND b = 2 OR c = 3").unwrap();
        let a = term("a", Operator::Eq, Operand::Value(Value::Number(1)));
        let b = term("b", Operator::Eq, Operand::Value(Value::Number(2)));
        let c = term("c", Operator::Eq, Operand::Value(Value::Number(3)));
        assert_eq!(
            q.where_clause,
            Some(Clause::Or(vec![
                Clause::And(vec![Clause::Not(Box::new(a)), b]),
                c
            ]))
        );
    }

    #[test]
    fn parentheses_group_and_nest() {
        let q = parse("(a = x OR b = y) && !c = z").unwrap();
        assert_eq!(
            q.where_clause,
            Some(Clause::And(vec![
                Clause::Or(vec![
                    term("a", Operator::Eq, text("x")),
                    term("b", Operator::Eq, text("y"))
                ]),
                Clause::Not(Box::new(term("c", Operator::Eq, text("z")))),
            ]))
        );
        let nested = parse("(a = x AND b = y) AND c = z").unwrap();
        assert!(matches!(
            nested.where_clause,
            Some(Clause::And(ref children)) if children.len() == 2
        ));
    }

    #[test]
    fn operators_lists_functions() {
        let q = parse(
            "labels not in (a, EMPTY, \"b c\") and assignee is not null and \
             created > startOfDay('-1d') and summary !~ x and key in currentUser()",
        )
        .unwrap();
        let Some(Clause::And(children)) = q.where_clause else {
            panic!("expected AND");
        };
        assert_eq!(
            children,
            vec![
                term(
                    "labels",
                    Operator::NotIn,
                    Operand::List(vec![text("a"), Operand::Empty, text("b c")])
                ),
                term("assignee", Operator::IsNot, Operand::Empty),
                term(
                    "created",
                    Operator::Gt,
                    Operand::Function(FunctionCall {
                        name: "startOfDay".into(),
                        args: vec!["-1d".into()]
                    })
                ),
                term("summary", Operator::NotLike, text("x")),
                term(
                    "key",
                    Operator::In,
                    Operand::Function(FunctionCall {
                        name: "currentUser".into(),
                        args: vec![]
                    })
                ),
            ]
        );
    }

    #[test]
    fn order_by() {
        let q = parse("order by created DESC, key, cf[10010] asc").unwrap();
        assert_eq!(q.where_clause, None);
        assert_eq!(
            q.order_by,
            vec![
                OrderBy {
                    field: Field::Named("created".into()),
                    direction: Some(Direction::Desc)
                },
                OrderBy {
                    field: Field::Named("key".into()),
                    direction: None
                },
                OrderBy {
                    field: Field::Custom(10010),
                    direction: Some(Direction::Asc)
                },
            ]
        );
        assert_eq!(parse("   ").unwrap(), Query::default());
    }

    #[test]
    fn numbers_versus_text() {
        assert_eq!(number("123"), Some(123));
        assert_eq!(number("-5"), Some(-5));
        assert_eq!(number("-5d"), None);
        assert_eq!(number("99999999999999999999"), None);
        assert!(looks_numeric("99999999999999999999"));
        let q = parse("id = 99999999999999999999").unwrap();
        assert_eq!(
            q.where_clause,
            Some(term("id", Operator::Eq, text("99999999999999999999")))
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}a = b{}", "(".repeat(5000), ")".repeat(5000));
        let err = parse(&deep).unwrap_err();
        assert!(err.to_string().contains("levels deep"), "{err}");
        let nots = format!("{}a = b", "NOT ".repeat(5000));
        assert!(parse(&nots).is_err());
    }
}
