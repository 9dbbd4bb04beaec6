//! Splits JQL text into tokens.
//!
//! Like Jira's ANTLR lexer, the whole text is tokenised before parsing, so a reserved character
//! anywhere is reported even when a grammar error comes earlier.

use super::error::JqlError;

/// Characters Jira reserves: they must be quoted or escaped as `\uXXXX`.
const RESERVED_CHARS: &[char] = &[
    '{', '}', '*', '/', '%', '+', '^', '$', '#', '@', '?', ';', '[', ']',
];

/// Characters that end a bare word because they are tokens of their own.
const SPECIAL_CHARS: &[char] = &['=', '!', '<', '>', '(', ')', ',', '~', '"', '\'', '&', '|'];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    LParen,
    RParen,
    Comma,
    Eq,
    NotEq,
    Lt,
    Lte,
    Gt,
    Gte,
    Like,
    NotLike,
    /// `!` on its own: a `NOT`.
    Bang,
    /// `&` or `&&`.
    AndSymbol,
    /// `|` or `||`.
    OrSymbol,
    /// An unquoted word, escapes resolved.
    Word(String),
    /// A quoted string, escapes resolved.
    Quoted(String),
    /// `cf[NNN]`.
    Custom(u64),
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    /// Byte range in the query, for quoting the token back in messages.
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) line: u32,
    pub(crate) character: u32,
}

impl Token {
    /// The token as Jira shows it after "but got".
    pub(crate) fn shown<'a>(&self, source: &'a str) -> &'a str {
        match self.kind {
            TokenKind::Eof => "EOF",
            _ => source.get(self.start..self.end).unwrap_or(""),
        }
    }
}

/// Whether `c` may appear unescaped in a bare word.
pub(crate) fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !SPECIAL_CHARS.contains(&c) && !RESERVED_CHARS.contains(&c) && c != '\\'
}

struct Lexer<'a> {
    source: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    line: u32,
    character: u32,
}

pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, JqlError> {
    let mut lexer = Lexer {
        source,
        chars: source.char_indices().peekable(),
        line: 1,
        character: 1,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

impl Lexer<'_> {
    fn bump(&mut self) -> Option<(usize, char)> {
        let next = self.chars.next();
        if let Some((_, c)) = next {
            if c == '\n' {
                self.line = self.line.saturating_add(1);
                self.character = 1;
            } else {
                self.character = self.character.saturating_add(1);
            }
        }
        next
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    fn offset(&mut self) -> usize {
        self.chars.peek().map_or(self.source.len(), |&(i, _)| i)
    }

    fn error(message: String, line: u32, character: u32) -> JqlError {
        JqlError::Syntax {
            message,
            line,
            character,
        }
    }

    fn next_token(&mut self) -> Result<Token, JqlError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        let (line, character) = (self.line, self.character);
        let start = self.offset();
        let Some((_, c)) = self.bump() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                start,
                end: start,
                line,
                character,
            });
        };
        let kind = match c {
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            ',' => TokenKind::Comma,
            '=' => TokenKind::Eq,
            '~' => TokenKind::Like,
            '!' => match self.peek() {
                Some('=') => {
                    self.bump();
                    TokenKind::NotEq
                }
                Some('~') => {
                    self.bump();
                    TokenKind::NotLike
                }
                _ => TokenKind::Bang,
            },
            '<' => self.with_eq(TokenKind::Lt, TokenKind::Lte),
            '>' => self.with_eq(TokenKind::Gt, TokenKind::Gte),
            '&' => {
                if self.peek() == Some('&') {
                    self.bump();
                }
                TokenKind::AndSymbol
            }
            '|' => {
                if self.peek() == Some('|') {
                    self.bump();
                }
                TokenKind::OrSymbol
            }
            '"' | '\'' => TokenKind::Quoted(self.quoted(c, line, character)?),
            c if RESERVED_CHARS.contains(&c) => {
                return Err(reserved_char(c, line, character));
            }
            c => self.word(c, line, character)?,
        };
        let end = self.offset();
        Ok(Token {
            kind,
            start,
            end,
            line,
            character,
        })
    }

    fn with_eq(&mut self, plain: TokenKind, with_eq: TokenKind) -> TokenKind {
        if self.peek() == Some('=') {
            self.bump();
            with_eq
        } else {
            plain
        }
    }

    fn quoted(&mut self, quote: char, line: u32, character: u32) -> Result<String, JqlError> {
        let mut text = String::new();
        loop {
            let (esc_line, esc_char) = (self.line, self.character);
            match self.bump() {
                None => {
                    return Err(Self::error(
                        format!("The quoted string '{text}' has not been completed."),
                        line,
                        character,
                    ));
                }
                Some((_, c)) if c == quote => return Ok(text),
                Some((_, '\\')) => text.push(self.escape(esc_line, esc_char)?),
                Some((_, c)) => text.push(c),
            }
        }
    }

    fn word(&mut self, first: char, line: u32, character: u32) -> Result<TokenKind, JqlError> {
        let mut text = String::new();
        if first == '\\' {
            text.push(self.escape(line, character)?);
        } else {
            text.push(first);
        }
        loop {
            match self.peek() {
                Some('\\') => {
                    let (esc_line, esc_char) = (self.line, self.character);
                    self.bump();
                    text.push(self.escape(esc_line, esc_char)?);
                }
                Some(c) if is_word_char(c) => {
                    self.bump();
                    text.push(c);
                }
                _ => break,
            }
        }
        if text.eq_ignore_ascii_case("cf") && self.peek() == Some('[') {
            return self.custom_field();
        }
        Ok(TokenKind::Word(text))
    }

    /// Reads `[digits]` after `cf`.
    fn custom_field(&mut self) -> Result<TokenKind, JqlError> {
        let (line, character) = (self.line, self.character);
        self.bump();
        let mut id: u64 = 0;
        let mut digits = 0usize;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            self.bump();
            digits += 1;
            id = id
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d)))
                .ok_or_else(|| reserved_char('[', line, character))?;
        }
        if digits == 0 || self.peek() != Some(']') {
            return Err(reserved_char('[', line, character));
        }
        self.bump();
        Ok(TokenKind::Custom(id))
    }

    /// Reads the rest of an escape sequence whose backslash is already consumed.
    fn escape(&mut self, line: u32, character: u32) -> Result<char, JqlError> {
        let illegal = |seq: &str| {
            Self::error(
                format!(
                    "'{seq}' is an illegal JQL escape sequence. The valid escape sequences are \
                     \\', \\\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX."
                ),
                line,
                character,
            )
        };
        let Some((_, c)) = self.bump() else {
            return Err(illegal("\\"));
        };
        Ok(match c {
            '"' => '"',
            '\'' => '\'',
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            '\\' => '\\',
            ' ' => ' ',
            'u' => {
                let mut hex = String::new();
                for _ in 0..4 {
                    match self.peek() {
                        Some(h) if h.is_ascii_hexdigit() => {
                            self.bump();
                            hex.push(h);
                        }
                        _ => return Err(illegal(&format!("\\u{hex}"))),
                    }
                }
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| illegal(&format!("\\u{hex}")))?
            }
            other => return Err(illegal(&format!("\\{other}"))),
        })
    }
}

fn reserved_char(c: char, line: u32, character: u32) -> JqlError {
    JqlError::Syntax {
        message: format!(
            "The character '{c}' is a reserved JQL character. You must enclose it in a string or \
             use the escape '\\u{:04x}' instead.",
            u32::from(c)
        ),
        line,
        character,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn word(s: &str) -> TokenKind {
        TokenKind::Word(s.into())
    }

    #[test]
    fn operators_and_symbols() {
        assert_eq!(
            kinds("a!=b !~ <= >= < > = ~ ! & && | || ( ) ,"),
            vec![
                word("a"),
                TokenKind::NotEq,
                word("b"),
                TokenKind::NotLike,
                TokenKind::Lte,
                TokenKind::Gte,
                TokenKind::Lt,
                TokenKind::Gt,
                TokenKind::Eq,
                TokenKind::Like,
                TokenKind::Bang,
                TokenKind::AndSymbol,
                TokenKind::AndSymbol,
                TokenKind::OrSymbol,
                TokenKind::OrSymbol,
                TokenKind::LParen,
                TokenKind::RParen,
                TokenKind::Comma,
                TokenKind::Eof,
            ]
        );
    }

    #[test]
    fn words_keep_dashes_dots_and_colons() {
        assert_eq!(
            kinds("ABC-12 -5d 1.0 a:b"),
            vec![
                word("ABC-12"),
                word("-5d"),
                word("1.0"),
                word("a:b"),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn quoted_strings_and_escapes() {
        assert_eq!(
            kinds(r#""a \"b\" \\ \t\u0041" 'it\'s' x\ y"#),
            vec![
                TokenKind::Quoted("a \"b\" \\ \tA".into()),
                TokenKind::Quoted("it's".into()),
                word("x y"),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn custom_fields() {
        assert_eq!(
            kinds("cf[10010] CF[7]"),
            vec![
                TokenKind::Custom(10010),
                TokenKind::Custom(7),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn positions_are_one_based_and_count_lines() {
        let tokens = tokenize("a =\n  b").unwrap();
        let pos: Vec<(u32, u32)> = tokens.iter().map(|t| (t.line, t.character)).collect();
        assert_eq!(pos, vec![(1, 1), (1, 3), (2, 3), (2, 4)]);
        assert_eq!(tokens[3].shown("a =\n  b"), "EOF");
    }

    #[test]
    fn errors() {
        let cases = [
            (
                "summary ~ 50%",
                "Error in the JQL Query: The character '%' is a reserved JQL character. You must \
                 enclose it in a string or use the escape '\\u0025' instead. (line 1, character 13)",
            ),
            (
                "a = \"open",
                "Error in the JQL Query: The quoted string 'open' has not been completed. (line \
                 1, character 5)",
            ),
            (
                "a = \"x\\qy\"",
                "Error in the JQL Query: '\\q' is an illegal JQL escape sequence. The valid \
                 escape sequences are \\', \\\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX. (line 1, \
                 character 7)",
            ),
            (
                "cf[12x] = 1",
                "Error in the JQL Query: The character '[' is a reserved JQL character. You must \
                 enclose it in a string or use the escape '\\u005b' instead. (line 1, character 3)",
            ),
        ];
        for (source, message) in cases {
            assert_eq!(
                tokenize(source).unwrap_err().to_string(),
                message,
                "{source}"
            );
        }
    }
}
