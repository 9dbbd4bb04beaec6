//! Reading secrets: from standard input, a file, an environment variable or a hidden
//! prompt, never from an argument's value. Values go straight into zeroizing types.

use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

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
            let mut s = Zeroizing::new(String::new());
            std::io::stdin().read_to_string(&mut s).map_err(|e| {
                CliError::Io(format!("could not read the {} from stdin: {e}", self.label))
            })?;
            s
        } else if let Some(path) = self.file {
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                CliError::Io(format!(
                    "could not read the {} from {}: {e}",
                    self.label,
                    path.display()
                ))
            })?)
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
