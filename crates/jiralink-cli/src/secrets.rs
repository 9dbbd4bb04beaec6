//! Reading secrets: from standard input, a file, an environment variable or a hidden
//! prompt, never from an argument's value. Values go straight into zeroizing types.

use std::path::Path;

use jiralink_app::{AppError, MAX_SECRET_CHARS, secret_too_long_message};

use zeroize::Zeroizing;

use crate::bounded::read_secret_at_most;
use crate::exit::CliError;

/// Where one secret comes from, as given on the command line.
#[derive(Debug)]
pub(crate) struct SecretSource<'a> {
    /// The name users know it by, e.g. "API token".
    pub(crate) label: &'static str,
    /// The flag stem, e.g. "api-token".
    pub(crate) flag: &'static str,
    pub(crate) stdin: bool,
    pub(crate) file: Option<&'a Path>,
    pub(crate) env: Option<&'a str>,
    /// A value passed as an argument: refused.
    pub(crate) refused_value: bool,
}

impl SecretSource<'_> {
    /// The secret if one was supplied non-interactively.
    pub(crate) fn read(&self) -> Result<Option<Zeroizing<String>>, CliError> {
        if self.refused_value {
            return Err(CliError::Usage(format!(
                "secrets are never accepted as argument values (they end up in shell history \
                 and in the process list); use --{f}-stdin, --{f}-file FILE or --{f}-env VAR",
                f = self.flag
            )));
        }
        let raw = if self.stdin {
            let read = read_secret_at_most(std::io::stdin(), SECRET_READ_LIMIT).map_err(|e| {
                CliError::Io(format!("could not read the {} from stdin: {e}", self.label))
            })?;
            self.text(read, "stdin")?
        } else if let Some(path) = self.file {
            let read = std::fs::File::open(path)
                .and_then(|f| read_secret_at_most(f, SECRET_READ_LIMIT))
                .map_err(|e| {
                    CliError::Io(format!(
                        "could not read the {} from {}: {e}",
                        self.label,
                        path.display()
                    ))
                })?;
            self.text(read, &path.display().to_string())?
        } else if let Some(var) = self.env {
            Zeroizing::new(std::env::var(var).map_err(|_| {
                CliError::Usage(format!(
                    "the environment variable {var} (named by --{}-env) is not set",
                    self.flag
                ))
            })?)
        } else {
            return Ok(None);
        };
        let value = trim_line_end(&raw);
        if value.is_empty() {
            return Err(CliError::Usage(format!(
                "the {} given is empty",
                self.label
            )));
        }
        Ok(Some(Zeroizing::new(value.to_owned())))
    }
}

impl SecretSource<'_> {
    /// What was read, as text; more than [`SECRET_READ_LIMIT`] bytes is a secret too long.
    fn text(
        &self,
        read: Option<Zeroizing<Vec<u8>>>,
        from: &str,
    ) -> Result<Zeroizing<String>, CliError> {
        let Some(mut bytes) = read else {
            return Err(CliError::App(AppError::InvalidInput(
                secret_too_long_message(self.label),
            )));
        };
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(text) => Ok(Zeroizing::new(text)),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(CliError::Io(format!(
                    "the {} from {from} is not UTF-8 text",
                    self.label
                )))
            }
        }
    }
}

/// The most bytes read for one secret: [`MAX_SECRET_CHARS`] characters of up to four bytes
/// each and a line end. More cannot be a usable secret, so reading stops there whatever the
/// file or pipe holds.
const SECRET_READ_LIMIT: u64 = MAX_SECRET_CHARS as u64 * 4 + 2;

/// Files and pipes usually end with a newline that is not part of the secret.
fn trim_line_end(s: &str) -> &str {
    s.strip_suffix("\r\n")
        .or_else(|| s.strip_suffix('\n'))
        .unwrap_or(s)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_newline_is_dropped() {
        assert_eq!(trim_line_end("abc\n"), "abc");
        assert_eq!(trim_line_end("abc\r\n"), "abc");
        assert_eq!(trim_line_end("  abc  "), "abc");
    }

    #[test]
    fn argument_values_are_refused_without_echo() {
        let source = SecretSource {
            label: "API token",
            flag: "api-token",
            stdin: false,
            file: None,
            env: None,
            refused_value: true,
        };
        let Err(CliError::Usage(message)) = source.read() else {
            panic!("expected a usage error");
        };
        assert!(message.contains("--api-token-stdin"));
    }
}
