//! Interactive prompts, on stderr, used only when stdin is a terminal and --no-input is off.
//! Choices and questions can hold remote text (site names, connection names), so they pass
//! through [`crate::output::terminal_text`] like everything else printed.

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Password, Select};
use zeroize::Zeroizing;

use crate::exit::CliError;

#[expect(clippy::needless_pass_by_value, reason = "used as a map_err function")]
fn cancelled(e: dialoguer::Error) -> CliError {
    CliError::Cancelled(format!("cancelled ({e})"))
}

pub(crate) fn text(label: &str, help: &str) -> Result<String, CliError> {
    errln!("{help}");
    Input::<String>::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .interact_text()
        .map_err(cancelled)
}

pub(crate) fn secret(label: &str, help: &str) -> Result<Zeroizing<String>, CliError> {
    errln!("{help}");
    Password::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .interact()
        .map(Zeroizing::new)
        .map_err(cancelled)
}

/// The items as a terminal may show them.
fn shown(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|item| crate::output::terminal_text(item).into_owned())
        .collect()
}

pub(crate) fn select(label: &str, items: &[String]) -> Result<usize, CliError> {
    Select::with_theme(&ColorfulTheme::default())
        .with_prompt(crate::output::terminal_text(label))
        .items(shown(items))
        .default(0)
        .interact()
        .map_err(cancelled)
}

pub(crate) fn multi_select(label: &str, items: &[String]) -> Result<Vec<usize>, CliError> {
    MultiSelect::with_theme(&ColorfulTheme::default())
        .with_prompt(crate::output::terminal_text(&format!(
            "{label} (space selects, enter confirms)"
        )))
        .items(shown(items))
        .interact()
        .map_err(cancelled)
}

pub(crate) fn confirm(question: &str) -> Result<bool, CliError> {
    Confirm::with_theme(&ColorfulTheme::default())
        .with_prompt(crate::output::terminal_text(question))
        .default(false)
        .interact()
        .map_err(cancelled)
}
